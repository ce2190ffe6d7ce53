import { describe, expect, it } from 'vitest';
import { b64url } from '../../test/fixtures/auth/signing-keys.ts';
import { ACCESS_TOKEN_TYPE, readTokenResponse } from './token-response.ts';

const NOW = 1_800_000_000_000;
const jwt = (payload: object) => `${b64url({ alg: 'ES256', typ: 'at+jwt' })}.${b64url(payload)}.c2ln`;
const good = {
  access_token: jwt({ jti: 'tx-1', exp: NOW / 1000 + 120 }),
  issued_token_type: ACCESS_TOKEN_TYPE,
  token_type: 'Bearer',
  expires_in: 120,
  scope: 'tool:read_invoice',
};

describe('readTokenResponse', () => {
  it('takes a well-formed RFC 8693 response: token, jti for audit, expiry', () => {
    expect(readTokenResponse(200, good, NOW)).toEqual({
      ok: true,
      issued: {
        token: good.access_token,
        tokenId: 'tx-1',
        expiresAt: NOW + 120_000,
        scope: 'tool:read_invoice',
      },
    });
  });

  it('takes the earlier of expires_in and the JWT exp', () => {
    const result = readTokenResponse(200, { ...good, expires_in: 3600 }, NOW);
    expect(result.ok && result.issued.expiresAt).toBe(NOW + 120_000);
  });

  it('audits an opaque token by its digest, and without a stated lifetime does not set one', () => {
    const result = readTokenResponse(200, { access_token: 'opaque-token-1234', token_type: 'bearer' }, NOW);
    expect(result).toMatchObject({ ok: true, issued: { token: 'opaque-token-1234', expiresAt: undefined } });
    expect(result.ok && result.issued.tokenId).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(result.ok && result.issued.tokenId).not.toContain('opaque-token-1234');
  });

  const junk: [string, unknown, RegExp][] = [
    ['not an object', ['a'], /not a JSON object/],
    ['no body (not JSON)', undefined, /not a JSON object/],
    ['no access_token', { ...good, access_token: undefined }, /access_token/],
    ['an empty access_token', { ...good, access_token: '' }, /access_token/],
    ['a numeric access_token', { ...good, access_token: 42 }, /access_token/],
    ['a token with CR LF (header injection)', { ...good, access_token: 'abc\r\nx-admin: 1' }, /access_token/],
    ['a token with a space', { ...good, access_token: 'abc def' }, /access_token/],
    ['a token of 20 KiB', { ...good, access_token: 'a'.repeat(20 * 1024) }, /access_token/],
    ['no token_type', { ...good, token_type: undefined }, /token_type/],
    ['token_type N_A', { ...good, token_type: 'N_A' }, /token_type/],
    ['token_type DPoP', { ...good, token_type: 'DPoP' }, /token_type/],
    [
      'an ID token issued instead',
      { ...good, issued_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
      /issued_token_type/,
    ],
    [
      'a refresh token issued instead',
      { ...good, issued_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
      /issued_token_type/,
    ],
    ['expires_in as a string', { ...good, expires_in: '120' }, /expires_in/],
    ['expires_in zero', { ...good, expires_in: 0 }, /expires_in/],
    ['expires_in negative', { ...good, expires_in: -1 }, /expires_in/],
    [
      'an already expired JWT',
      { ...good, access_token: jwt({ jti: 'old', exp: NOW / 1000 - 1 }) },
      /already expired/,
    ],
  ];
  it.each(junk)('fails closed on %s', (_name, body, reason) => {
    const result = readTokenResponse(200, body, NOW);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(reason);
    expect(!result.ok && result.reason).toMatch(/invalid response/);
  });

  it('names the OAuth error code of a refusal, and nothing else from the body', () => {
    expect(
      readTokenResponse(400, { error: 'invalid_grant', error_description: 'subject token expired' }, NOW),
    ).toEqual({
      ok: false,
      reason: 'the identity provider refused the token exchange: invalid_grant',
      retryable: false,
    });
    const odd = readTokenResponse(400, { error: 'bad\nline<script>' + 'x'.repeat(100) }, NOW);
    expect(odd).toEqual({
      ok: false,
      reason: 'the identity provider answered the token exchange with HTTP 400',
      retryable: false,
    });
  });

  it('calls server errors and throttling retryable, client errors not', () => {
    expect(readTokenResponse(503, undefined, NOW)).toMatchObject({ ok: false, retryable: true });
    expect(readTokenResponse(429, undefined, NOW)).toMatchObject({ ok: false, retryable: true });
    expect(readTokenResponse(401, { error: 'invalid_client' }, NOW)).toMatchObject({
      ok: false,
      retryable: false,
      reason: expect.stringMatching(/invalid_client/),
    });
    expect(readTokenResponse(302, undefined, NOW)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/HTTP 302/),
    });
  });
});
