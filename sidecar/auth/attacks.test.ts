import { exportSPKI, importJWK, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthResult, type Authenticator } from './authenticator.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';
import { startJsonServer, type JsonServer } from '../../test/fixtures/auth/json-server.ts';
import {
  b64url,
  hmacToken,
  jwksOf,
  rawToken,
  signingKey,
  signRaw,
  signToken,
  type SigningKey,
} from '../../test/fixtures/auth/signing-keys.ts';

/**
 * JWT attacks, one row each, every row asserting the exact outcome. All run against one authenticator
 * configured like production (RS256 and ES256 pinned, 30 s skew, required scopes) whose JWKS is served
 * over HTTP on loopback; a second loopback server plays the attacker's key host.
 */
const NOW = 1_800_000_000_000;
const nowS = NOW / 1000;
const SKEW = 30;
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const REQUIRED = ['mcp:call', 'invoices:read'];

let jwksServer: JsonServer;
let attackerServer: JsonServer;
let issuer: string;
let rsa: SigningKey;
let ec: SigningKey;
let ps: SigningKey;
let ed: SigningKey;
let attacker: SigningKey;
let attackerSameKid: SigningKey;
let retired: SigningKey;
let auth: Authenticator;

beforeAll(async () => {
  [rsa, ec, ps, ed, attacker, attackerSameKid, retired] = await Promise.all([
    signingKey('RS256', 'rsa-1'),
    signingKey('ES256', 'ec-1'),
    signingKey('PS256', 'ps-1'),
    signingKey('EdDSA', 'ed-1'),
    signingKey('ES256', 'attacker-1'),
    signingKey('ES256', 'ec-1'),
    signingKey('ES256', 'ec-0'),
  ]);
  jwksServer = await startJsonServer();
  attackerServer = await startJsonServer();
  issuer = `${jwksServer.origin}/realms/acme`;
  // PS256 and EdDSA keys are published but not pinned: the pin, not the JWKS, decides.
  jwksServer.serve('/jwks', jwksOf(rsa, ec, ps, ed));
  attackerServer.serve('/jwks', jwksOf(attacker));
  auth = createAuthenticator(
    authSettings({
      issuer,
      jwksUri: `${jwksServer.origin}/jwks`,
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: SKEW,
      requiredScopes: REQUIRED,
    }),
    { clock: () => NOW, refetchCooldownMs: 0 },
  );
});
afterAll(async () => {
  await jwksServer.close();
  await attackerServer.close();
});

let serial = 0;
function claims(overrides: JWTPayload = {}): JWTPayload {
  serial += 1;
  return {
    iss: issuer,
    aud: AUDIENCE,
    sub: 'alice',
    client_id: 'claude-desktop',
    scope: 'mcp:call invoices:read',
    iat: nowS - 60,
    exp: nowS + 600,
    jti: `jti-${serial}`,
    ...overrides,
  };
}
const header = {
  rsa: () => ({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }),
  ec: () => ({ alg: 'ES256', kid: 'ec-1', typ: 'at+jwt' }),
};
const bearer = (token: string) => `Bearer ${token}`;
const valid = (over: JWTPayload = {}, hdr: Record<string, unknown> = {}) => signToken(ec, claims(over), hdr);

type Outcome = 'ok' | 'missing_token' | 'invalid_token' | 'insufficient_scope';
interface AttackCase {
  readonly name: string;
  readonly authorization: () => Promise<string | undefined> | string | undefined;
  readonly expected: Outcome;
  readonly reason?: RegExp;
  readonly check?: (result: AuthResult) => void;
}

const cases: AttackCase[] = [
  // ---- positive controls: the table would be meaningless if valid tokens failed too
  { name: 'control: valid ES256 token', authorization: async () => bearer(await valid()), expected: 'ok' },
  {
    name: 'control: valid RS256 token',
    authorization: async () => bearer(await signToken(rsa, claims())),
    expected: 'ok',
  },

  // ---- the Authorization header
  { name: 'no Authorization header', authorization: () => undefined, expected: 'missing_token' },
  { name: 'empty Authorization header', authorization: () => '', expected: 'missing_token' },
  {
    name: 'lowercase "bearer" scheme is accepted',
    authorization: async () => `bearer ${await valid()}`,
    expected: 'ok',
  },
  {
    name: 'uppercase "BEARER" scheme is accepted',
    authorization: async () => `BEARER ${await valid()}`,
    expected: 'ok',
  },
  {
    name: 'Basic scheme refused',
    authorization: () => `Basic ${b64url('alice:secret')}`,
    expected: 'invalid_token',
  },
  {
    name: 'DPoP scheme refused (no proof-of-possession support)',
    authorization: async () => `DPoP ${await valid()}`,
    expected: 'invalid_token',
  },
  { name: 'scheme without a token', authorization: () => 'Bearer', expected: 'invalid_token' },
  { name: 'scheme and a space, no token', authorization: () => 'Bearer ', expected: 'invalid_token' },
  {
    name: 'two tokens separated by a space',
    authorization: async () => `Bearer ${await valid()} ${await valid()}`,
    expected: 'invalid_token',
  },
  {
    name: 'two credentials separated by a comma',
    authorization: async () => `Bearer ${await valid()}, Bearer ${await valid()}`,
    expected: 'invalid_token',
  },
  {
    name: 'tab inside the token',
    authorization: async () => `Bearer ${(await valid()).replace('.', '.\t')}`,
    expected: 'invalid_token',
  },
  {
    name: 'trailing whitespace after the token',
    authorization: async () => `Bearer ${await valid()} `,
    expected: 'invalid_token',
  },
  {
    name: 'tab between scheme and token',
    authorization: async () => `Bearer\t${await valid()}`,
    expected: 'invalid_token',
  },
  {
    name: 'header over 8 KiB',
    authorization: async () => bearer(await valid({ padding: 'x'.repeat(8 * 1024) })),
    expected: 'invalid_token',
    reason: /longer than 8192/,
  },

  // ---- algorithm attacks
  {
    name: 'alg none, empty signature',
    authorization: () => bearer(rawToken({ alg: 'none', typ: 'JWT' }, claims())),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'alg "NONE" spelled differently',
    authorization: () => bearer(rawToken({ alg: 'NONE' }, claims())),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'key confusion: HS256 signed with the RSA public key (PEM) as HMAC secret',
    authorization: async () =>
      bearer(
        hmacToken(
          { alg: 'HS256', kid: 'rsa-1', typ: 'JWT' },
          claims(),
          await exportSPKI(await publicKeyOf(rsa)),
        ),
      ),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'key confusion: HS256 signed with the RSA public JWK as HMAC secret',
    authorization: () =>
      bearer(hmacToken({ alg: 'HS256', kid: 'rsa-1' }, claims(), JSON.stringify(rsa.publicJwk))),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'HS256 with a guessed secret',
    authorization: () => bearer(hmacToken({ alg: 'HS256' }, claims(), 'secret')),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'PS256 token from a published key when only RS256/ES256 are pinned',
    authorization: async () => bearer(await signToken(ps, claims())),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'EdDSA token from a published key when not pinned',
    authorization: async () => bearer(await signToken(ed, claims())),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'alg header switched to ES384 on an ES256 signature',
    authorization: async () => bearer(swapHeader(await valid(), { alg: 'ES384', kid: 'ec-1' })),
    expected: 'invalid_token',
    reason: /algorithm/,
  },
  {
    name: 'RS256 header naming the EC key id (alg/key type mismatch)',
    authorization: async () =>
      bearer(swapHeader(await signToken(rsa, claims()), { alg: 'RS256', kid: 'ec-1' })),
    expected: 'invalid_token',
    reason: /no key in the JWKS/,
  },

  // ---- where the key comes from
  {
    name: 'embedded jwk header with the attacker key',
    authorization: async () => bearer(await signToken(attacker, claims(), { jwk: attacker.publicJwk })),
    expected: 'invalid_token',
    reason: /"jwk" is not accepted/,
  },
  {
    name: 'embedded jwk header on an otherwise valid token',
    authorization: async () => bearer(await valid({}, { jwk: ec.publicJwk })),
    expected: 'invalid_token',
    reason: /"jwk" is not accepted/,
  },
  {
    name: 'jku pointing to an attacker JWKS on loopback',
    authorization: async () =>
      bearer(await signToken(attacker, claims(), { jku: `${attackerServer.origin}/jwks` })),
    expected: 'invalid_token',
    reason: /"jku" is not accepted/,
  },
  {
    name: 'x5u pointing to an attacker certificate on loopback',
    authorization: async () =>
      bearer(await signToken(attacker, claims(), { x5u: `${attackerServer.origin}/cert.pem` })),
    expected: 'invalid_token',
    reason: /"x5u" is not accepted/,
  },
  {
    name: 'x5c chain in the header',
    authorization: async () =>
      bearer(await signToken(attacker, claims(), { x5c: [b64url('not a certificate')] })),
    expected: 'invalid_token',
    reason: /"x5c" is not accepted/,
  },
  {
    name: 'attacker key with an unknown kid',
    authorization: async () => bearer(await signToken(attacker, claims())),
    expected: 'invalid_token',
    reason: /no key in the JWKS/,
  },
  {
    name: 'signature from a different key under our kid',
    authorization: async () => bearer(await signToken(attackerSameKid, claims())),
    expected: 'invalid_token',
    reason: /signature is invalid/,
  },
  {
    name: 'kid of a retired key that is no longer published',
    authorization: async () => bearer(await signToken(retired, claims())),
    expected: 'invalid_token',
    reason: /no key in the JWKS/,
  },

  // ---- audience (RFC 8707: this server's canonical resource URI)
  {
    name: 'wrong aud',
    authorization: async () => bearer(await valid({ aud: 'https://other.mcp.example.com/mcp' })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },
  {
    name: 'aud array without ours',
    authorization: async () =>
      bearer(await valid({ aud: ['https://a.example.com', 'https://b.example.com'] })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },
  {
    name: 'aud array naming another resource besides ours (replayable there and here)',
    authorization: async () => bearer(await valid({ aud: ['https://a.example.com', AUDIENCE] })),
    expected: 'invalid_token',
    reason: /"aud" must name this resource alone.*allowSharedAudience/,
  },
  {
    name: 'aud array naming ours twice',
    authorization: async () => bearer(await valid({ aud: [AUDIENCE, AUDIENCE] })),
    expected: 'invalid_token',
    reason: /"aud" must name this resource alone/,
  },
  {
    name: 'aud array of exactly ours',
    authorization: async () => bearer(await valid({ aud: [AUDIENCE] })),
    expected: 'ok',
  },
  {
    name: 'empty aud array',
    authorization: async () => bearer(await valid({ aud: [] })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },
  {
    name: 'missing aud',
    authorization: async () => bearer(await valid({ aud: undefined })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },
  {
    name: 'aud with a trailing slash',
    authorization: async () => bearer(await valid({ aud: `${AUDIENCE}/` })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },
  {
    name: 'aud of the server origin only',
    authorization: async () => bearer(await valid({ aud: 'https://billing.mcp.example.com' })),
    expected: 'invalid_token',
    reason: /"aud"/,
  },

  // ---- issuer
  {
    name: 'wrong iss',
    authorization: async () => bearer(await valid({ iss: 'https://evil.example.com/realms/acme' })),
    expected: 'invalid_token',
    reason: /"iss"/,
  },
  {
    name: 'missing iss',
    authorization: async () => bearer(await valid({ iss: undefined })),
    expected: 'invalid_token',
    reason: /"iss"/,
  },
  {
    name: 'iss with a trailing slash',
    authorization: async () => bearer(await valid({ iss: `${issuer}/` })),
    expected: 'invalid_token',
    reason: /"iss"/,
  },
  {
    name: 'iss differing in case',
    authorization: async () => bearer(await valid({ iss: issuer.replace('realms', 'REALMS') })),
    expected: 'invalid_token',
    reason: /"iss"/,
  },

  // ---- time
  {
    name: 'expired an hour ago',
    authorization: async () => bearer(await valid({ exp: nowS - 3600 })),
    expected: 'invalid_token',
    reason: /expired/,
  },
  {
    name: 'exp just inside the skew',
    authorization: async () => bearer(await valid({ exp: nowS - SKEW + 1 })),
    expected: 'ok',
  },
  {
    name: 'exp exactly at the skew edge',
    authorization: async () => bearer(await valid({ exp: nowS - SKEW })),
    expected: 'invalid_token',
    reason: /expired/,
  },
  {
    name: 'exp just outside the skew',
    authorization: async () => bearer(await valid({ exp: nowS - SKEW - 1 })),
    expected: 'invalid_token',
    reason: /expired/,
  },
  {
    name: 'missing exp',
    authorization: async () => bearer(await valid({ exp: undefined })),
    expected: 'invalid_token',
    reason: /"exp"/,
  },
  {
    name: 'exp as a string',
    authorization: async () => bearer(await valid({ exp: String(nowS + 600) as unknown as number })),
    expected: 'invalid_token',
    reason: /"exp"/,
  },
  {
    name: 'nbf in the future beyond the skew',
    authorization: async () => bearer(await valid({ nbf: nowS + SKEW + 1 })),
    expected: 'invalid_token',
    reason: /"nbf"/,
  },
  {
    name: 'nbf exactly at the skew edge',
    authorization: async () => bearer(await valid({ nbf: nowS + SKEW })),
    expected: 'ok',
  },
  {
    name: 'iat in the future beyond the skew',
    authorization: async () => bearer(await valid({ iat: nowS + SKEW + 1 })),
    expected: 'invalid_token',
    reason: /"iat" is in the future/,
  },
  {
    name: 'iat far in the future (a token that outlives its stated lifetime)',
    authorization: async () => bearer(await valid({ iat: nowS + 86_400, exp: nowS + 86_400 + 600 })),
    expected: 'invalid_token',
    reason: /"iat" is in the future/,
  },
  {
    name: 'iat exactly at the skew edge',
    authorization: async () => bearer(await valid({ iat: nowS + SKEW })),
    expected: 'ok',
  },
  {
    name: 'iat as a string',
    authorization: async () => bearer(await valid({ iat: String(nowS) as unknown as number })),
    expected: 'invalid_token',
    reason: /"iat"/,
  },
  {
    name: 'nbf in the future within the skew',
    authorization: async () => bearer(await valid({ nbf: nowS + SKEW - 1 })),
    expected: 'ok',
  },

  // ---- malformed compact serialisation
  {
    name: 'two segments',
    authorization: async () => bearer((await valid()).split('.').slice(0, 2).join('.')),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'four segments',
    authorization: async () => bearer(`${await valid()}.${b64url('{}')}`),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'trailing dot',
    authorization: async () => bearer(`${await valid()}.`),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'five segments (a JWE)',
    authorization: () =>
      bearer(['eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ', 'a', 'b', 'c', 'd'].join('.')),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'non-base64url characters in the header segment',
    authorization: async () =>
      bearer(`${b64url(header.ec())}+/.${(await valid()).split('.').slice(1).join('.')}`),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'header JSON is an array',
    authorization: () => bearer(`${b64url('[1]')}.${b64url(claims())}.sig`),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'header is not JSON',
    authorization: () => bearer(`${b64url('alg=ES256')}.${b64url(claims())}.sig`),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'payload JSON is not an object',
    authorization: async () => bearer(signRaw(ec, header.ec(), '["alice"]')),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'payload is not JSON',
    authorization: async () => bearer(signRaw(ec, header.ec(), 'sub=alice')),
    expected: 'invalid_token',
    reason: /malformed/,
  },
  {
    name: 'empty signature',
    authorization: async () => bearer(`${(await valid()).split('.').slice(0, 2).join('.')}.`),
    expected: 'invalid_token',
    reason: /signature is invalid|malformed/,
  },
  {
    name: 'truncated signature',
    authorization: async () => bearer((await valid()).slice(0, -10)),
    expected: 'invalid_token',
    reason: /signature is invalid|malformed/,
  },
  {
    name: 'payload swapped under a valid signature',
    authorization: async () => bearer(swapPayload(await valid(), claims({ sub: 'admin' }))),
    expected: 'invalid_token',
    reason: /signature is invalid/,
  },

  // ---- header parameters
  {
    name: 'crit naming an unknown extension',
    authorization: () =>
      bearer(
        signRaw(
          ec,
          { ...header.ec(), crit: ['urn:example:ext'], 'urn:example:ext': true },
          JSON.stringify(claims()),
        ),
      ),
    expected: 'invalid_token',
    reason: /not recognized/,
  },
  {
    name: 'crit with b64 false (unencoded payload)',
    // The unencoded payload is itself base64url text, so the header passes the token68 check and jose decides.
    authorization: () => bearer(signRaw(ec, { ...header.ec(), b64: false, crit: ['b64'] }, b64url(claims()))),
    expected: 'invalid_token',
    reason: /unencoded payload/,
  },
  {
    name: 'typ dpop+jwt (a DPoP proof replayed as a token)',
    authorization: async () => bearer(await valid({}, { typ: 'dpop+jwt' })),
    expected: 'invalid_token',
    reason: /typ/,
  },
  {
    name: 'typ logout+jwt',
    authorization: async () => bearer(await valid({}, { typ: 'logout+jwt' })),
    expected: 'invalid_token',
    reason: /typ/,
  },
  {
    name: 'typ that is not a string',
    authorization: async () => bearer(await valid({}, { typ: 7 })),
    expected: 'invalid_token',
    reason: /typ/,
  },
  {
    name: 'typ application/at+jwt (RFC 9068, long form)',
    authorization: async () => bearer(await valid({}, { typ: 'application/at+jwt' })),
    expected: 'ok',
  },
  {
    name: 'typ JWT (legacy access tokens)',
    authorization: async () => bearer(await valid({}, { typ: 'JWT' })),
    expected: 'ok',
  },
  {
    name: 'typ absent',
    authorization: async () => bearer(await valid({}, { typ: undefined })),
    expected: 'ok',
  },

  // ---- identities and scopes
  {
    name: 'missing user claim',
    authorization: async () => bearer(await valid({ sub: undefined })),
    expected: 'invalid_token',
    reason: /user claim "sub"/,
  },
  {
    name: 'empty user claim',
    authorization: async () => bearer(await valid({ sub: '' })),
    expected: 'invalid_token',
    reason: /user claim/,
  },
  {
    name: 'user claim of the wrong type',
    authorization: async () => bearer(await valid({ sub: 42 as unknown as string })),
    expected: 'invalid_token',
    reason: /user claim/,
  },
  {
    name: 'no agent claim at all',
    authorization: async () => bearer(await valid({ client_id: undefined })),
    expected: 'invalid_token',
    reason: /agent claim/,
  },
  {
    name: 'act claim overrides client_id (RFC 8693 delegation)',
    authorization: async () =>
      bearer(await valid({ act: { sub: 'research-agent', act: { sub: 'older-actor' } } })),
    expected: 'ok',
    check: (r) => expect(r.ok && r.principal.agent).toBe('research-agent'),
  },
  {
    name: 'act claim that is not an object',
    authorization: async () => bearer(await valid({ act: 'research-agent' })),
    expected: 'invalid_token',
    reason: /act claim/,
  },
  {
    name: 'azp used when client_id is absent',
    authorization: async () => bearer(await valid({ client_id: undefined, azp: 'web-app' })),
    expected: 'ok',
    check: (r) => expect(r.ok && r.principal.agent).toBe('web-app'),
  },
  {
    name: 'groups claim of the wrong type',
    authorization: async () => bearer(await valid({ groups: { admin: true } })),
    expected: 'ok',
    check: (r) => expect(r.ok && r.principal.groups).toEqual([]),
  },
  {
    name: 'groups claim with a non-string member',
    authorization: async () => bearer(await valid({ groups: ['support', 1] })),
    expected: 'ok',
    check: (r) => expect(r.ok && r.principal.groups).toEqual([]),
  },
  {
    name: 'one required scope missing',
    authorization: async () => bearer(await valid({ scope: 'invoices:read invoices:write' })),
    expected: 'insufficient_scope',
    check: (r) => expect(!r.ok && r.failure.missingScopes).toEqual(['mcp:call']),
  },
  {
    name: 'no scope claim at all',
    authorization: async () => bearer(await valid({ scope: undefined })),
    expected: 'insufficient_scope',
    check: (r) => expect(!r.ok && r.failure.missingScopes).toEqual(REQUIRED),
  },
  {
    name: 'scope as an array is not the scope claim',
    authorization: async () => bearer(await valid({ scope: REQUIRED as unknown as string })),
    expected: 'insufficient_scope',
  },
  {
    name: '__proto__ claim is refused and does not pollute prototypes',
    authorization: async () =>
      bearer(
        signRaw(ec, header.ec(), JSON.stringify(claims()).replace(/^\{/, '{"__proto__":{"polluted":true},')),
      ),
    expected: 'invalid_token',
    reason: /payload is not strict JSON \(forbidden key\)/,
    check: () => expect(({} as Record<string, unknown>).polluted).toBeUndefined(),
  },

  // ---- JSON that two readers could read differently (signed, so only the parser can catch it)
  {
    name: 'duplicate tenant claim (JSON.parse keeps the last, others the first)',
    authorization: () =>
      bearer(signRaw(ec, header.ec(), withMembers(claims(), '"tenant":"acme","tenant":"evil"'))),
    expected: 'invalid_token',
    reason: /payload repeats a member name/,
  },
  {
    name: 'duplicate sub claim',
    authorization: () => bearer(signRaw(ec, header.ec(), withMembers(claims(), '"sub":"admin"'))),
    expected: 'invalid_token',
    reason: /payload repeats a member name/,
  },
  {
    name: 'duplicate claim spelled with an escape ("s\\u0075b")',
    authorization: () => bearer(signRaw(ec, header.ec(), withMembers(claims(), '"s\\u0075b":"admin"'))),
    expected: 'invalid_token',
    reason: /payload repeats a member name/,
  },
  {
    name: 'duplicate member inside a nested claim (act.sub twice)',
    authorization: () =>
      bearer(signRaw(ec, header.ec(), withMembers(claims(), '"act":{"sub":"agent-a","sub":"agent-b"}'))),
    expected: 'invalid_token',
    reason: /payload repeats a member name/,
  },
  {
    name: 'duplicate alg in the header',
    authorization: () =>
      bearer(
        signRaw(ec, '{"alg":"none","kid":"ec-1","typ":"at+jwt","alg":"ES256"}', JSON.stringify(claims())),
      ),
    expected: 'invalid_token',
    reason: /header repeats a member name/,
  },
  {
    name: 'duplicate typ in the header',
    authorization: () =>
      bearer(
        signRaw(ec, '{"alg":"ES256","kid":"ec-1","typ":"dpop+jwt","typ":"at+jwt"}', JSON.stringify(claims())),
      ),
    expected: 'invalid_token',
    reason: /header repeats a member name/,
  },
  {
    name: 'claims that are not UTF-8 (a lenient decoder makes U+FFFD)',
    authorization: () =>
      bearer(
        signRaw(
          ec,
          header.ec(),
          Buffer.concat([
            Buffer.from(withMembers(claims(), '"tenant":"').slice(0, -1)),
            Buffer.from([0xff, 0x22, 0x7d]),
          ]),
        ),
      ),
    expected: 'invalid_token',
    reason: /payload is not UTF-8/,
  },
  {
    name: 'lone surrogate escaped in a claim',
    authorization: () => bearer(signRaw(ec, header.ec(), withMembers(claims(), '"tenant":"\\ud800"'))),
    expected: 'invalid_token',
    reason: /payload is not strict JSON/,
  },
  {
    name: 'number beyond the double range in a claim',
    authorization: () => bearer(signRaw(ec, header.ec(), withMembers(claims(), '"level":1e400'))),
    expected: 'invalid_token',
    reason: /payload is not strict JSON/,
  },
  {
    name: 'nesting deeper than any real claim',
    authorization: () =>
      bearer(signRaw(ec, header.ec(), withMembers(claims(), `"deep":${'['.repeat(40)}${']'.repeat(40)}`))),
    expected: 'invalid_token',
    reason: /payload is not strict JSON \(too deep\)/,
  },
];

describe(`JWT attack table (${cases.length} cases)`, () => {
  it('has at least 40 attack rows', () => {
    expect(cases.filter((c) => !c.name.startsWith('control:')).length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('$name -> $expected', async ({ authorization, expected, reason, check }) => {
    const result = await auth.authenticate(await authorization());
    const outcome = result.ok ? 'ok' : result.failure.code;
    expect(outcome, result.ok ? 'authenticated' : result.failure.reason).toBe(expected);
    if (reason !== undefined && !result.ok) expect(result.failure.reason).toMatch(reason);
    check?.(result);
  });

  it('never contacted the attacker key host', () => {
    expect(attackerServer.hits('/jwks') + attackerServer.hits('/cert.pem')).toBe(0);
  });
});

// ---- helpers that build tokens no library would

async function publicKeyOf(key: SigningKey) {
  return (await importJWK(key.publicJwk, key.alg, { extractable: true })) as CryptoKey;
}

/** Replaces the header of a signed token, keeping payload and signature. */
function swapHeader(token: string, newHeader: object): string {
  const [, payload, signature] = token.split('.');
  return `${b64url(newHeader)}.${payload}.${signature}`;
}

/** The claims as JSON text with extra members appended verbatim (duplicates, escapes, raw numbers). */
function withMembers(payload: object, members: string): string {
  return JSON.stringify(payload).replace(/\}$/, `,${members}}`);
}

function swapPayload(token: string, payload: object): string {
  const [head, , signature] = token.split('.');
  return `${head}.${b64url(payload)}.${signature}`;
}
