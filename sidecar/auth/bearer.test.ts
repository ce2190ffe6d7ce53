import fc from 'fast-check';
import { createLocalJWKSet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type Authenticator } from './authenticator.ts';
import { bearerToken, MAX_AUTHORIZATION_BYTES } from './bearer.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';
import {
  b64url,
  jwksOf,
  signingKey,
  signToken,
  type SigningKey,
} from '../../test/fixtures/auth/signing-keys.ts';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.def.ghi', 'abc.def.ghi'],
    ['bearer abc.def.ghi', 'abc.def.ghi'],
    ['bEaReR abc', 'abc'],
    ['Bearer  two-spaces-allowed-by-rfc6750', 'two-spaces-allowed-by-rfc6750'],
    ['Bearer a~b+c/d==', 'a~b+c/d=='],
  ])('takes the token from %j', (header, token) => {
    expect(bearerToken(header)).toEqual({ ok: true, token });
  });

  it.each([
    'Bearer',
    'Bearer ',
    'Bearerabc',
    ' Bearer abc',
    'Bearer abc ',
    'Bearer a b',
    'Bearer a,Bearer b',
    'Bearer a=b',
    'Bearer a\tb',
    'Bearer a\nb',
    'Token abc',
    'Basic YWxpY2U6c2VjcmV0',
    'Bearer ä',
  ])('refuses %j as invalid_token', (header) => {
    const result = bearerToken(header);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.failure.code).toBe('invalid_token');
  });

  it('treats an absent or empty header as a missing token', () => {
    expect(bearerToken(undefined)).toMatchObject({ ok: false, failure: { code: 'missing_token' } });
    expect(bearerToken('')).toMatchObject({ ok: false, failure: { code: 'missing_token' } });
  });

  it('refuses headers over the size cap before parsing them', () => {
    const token = 'a'.repeat(MAX_AUTHORIZATION_BYTES - 'Bearer '.length);
    expect(bearerToken(`Bearer ${token}`)).toEqual({ ok: true, token });
    expect(bearerToken(`Bearer ${token}a`)).toMatchObject({ ok: false, failure: { code: 'invalid_token' } });
  });
});

describe('random Authorization headers', () => {
  const NOW = 1_800_000_000_000;
  const issuer = 'https://id.example.com/realms/acme';
  let key: SigningKey;
  let auth: Authenticator;
  let validToken: string;

  beforeAll(async () => {
    key = await signingKey('ES256', 'ec-1');
    auth = createAuthenticator(authSettings({ issuer }), {
      clock: () => NOW,
      jwks: createLocalJWKSet(jwksOf(key)),
    });
    validToken = await signToken(key, {
      iss: issuer,
      aud: 'https://billing.mcp.example.com/mcp',
      sub: 'alice',
      client_id: 'agent',
      exp: NOW / 1000 + 600,
    });
  });

  const token68 = fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,200}=*$/);
  const segment = fc.oneof(
    fc.base64String().map((s) => s.replace(/=+$/, '')),
    fc.json().map((j) => b64url(j)),
    fc.constant(''),
  );
  const headers = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    token68.map((t) => `Bearer ${t}`),
    fc.tuple(segment, segment, segment).map((parts) => `Bearer ${parts.join('.')}`),
    fc.tuple(fc.json(), fc.json(), segment).map(([h, p, s]) => `Bearer ${b64url(h)}.${b64url(p)}.${s}`),
    fc
      .tuple(
        fc.constantFrom('Bearer ', 'bearer ', 'Basic ', 'DPoP ', ''),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
      )
      .map(([s, t]) => s + t),
  );

  it('never throw and never authenticate', async () => {
    await fc.assert(
      fc.asyncProperty(headers, async (header) => {
        const result = await auth.authenticate(header);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(['missing_token', 'invalid_token']).toContain(result.failure.code);
          // The reason is for logs: it must never carry the presented credential.
          const credential = header.replace(/^\S+ /, '');
          if (credential.length >= 16) expect(result.failure.reason).not.toContain(credential);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('never authenticate a valid token with one character changed', async () => {
    expect((await auth.authenticate(`Bearer ${validToken}`)).ok).toBe(true);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: validToken.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
        async (index, ch) => {
          fc.pre(validToken[index] !== ch);
          const mutated = validToken.slice(0, index) + ch + validToken.slice(index + 1);
          const result = await auth.authenticate(`Bearer ${mutated}`);
          // The last base64url character of a segment may carry unused bits: such a change decodes to the same token.
          if (result.ok) expect(decoded(mutated)).toEqual(decoded(validToken));
        },
      ),
      { numRuns: 500 },
    );
  });
});

function decoded(token: string): Buffer[] {
  return token.split('.').map((part) => Buffer.from(part, 'base64url'));
}
