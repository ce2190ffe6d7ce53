import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { principal } from '../../test/fixtures/principals.ts';
import { KeyRing } from './key-ring.ts';
import { mintToken, type MintRequest } from './minter.ts';
import { parseSigningKey, type SigningKey } from './signing-key.ts';

const NOW = 1_800_000_000_123;
const ISSUER = 'https://billing.mcp.example.com/mcp';
const AUDIENCE = 'https://billing-api.internal';

async function keyOf(type: 'ec' | 'rsa' | 'ed25519', options: object = {}): Promise<SigningKey> {
  const { privateKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return parseSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

function request(overrides: Partial<MintRequest> = {}): MintRequest {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: 60,
    principal: principal(),
    scopes: ['tool:read_invoice', 'invoices:read'],
    ...overrides,
  };
}

/** Verifies as a server container would: the sidecar's JWKS, the expected issuer and audience. */
async function verify(key: SigningKey, token: string, now = NOW) {
  const ring = new KeyRing();
  ring.install(key, now);
  return jwtVerify(token, createLocalJWKSet(JSON.parse(ring.jwks(now))), {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: [key.alg],
    typ: 'at+jwt',
    currentDate: new Date(now),
    requiredClaims: ['exp', 'iat', 'jti', 'sub', 'scope'],
  });
}

describe('mintToken', () => {
  it('carries sub = user, act.sub = agent, aud, the tool scope, tenant, iat, exp and jti', async () => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const minted = await mintToken(key, request(), NOW);
    const { payload, protectedHeader } = await verify(key, minted.token);
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' });
    expect(payload).toEqual({
      iss: ISSUER,
      sub: 'alice',
      act: { sub: 'support-copilot' },
      aud: AUDIENCE,
      scope: 'tool:read_invoice invoices:read',
      client_id: 'support-copilot',
      tenant: 'acme',
      iat: Math.floor(NOW / 1000),
      exp: Math.floor(NOW / 1000) + 60,
      jti: minted.tokenId,
    });
    expect(minted.expiresAt).toBe((Math.floor(NOW / 1000) + 60) * 1000);
  });

  it('leaves out tenant when the caller has none', async () => {
    const key = await keyOf('ed25519');
    const { tenant: _tenant, ...withoutTenant } = principal();
    const { payload } = await verify(
      key,
      (await mintToken(key, request({ principal: withoutTenant }), NOW)).token,
    );
    expect(payload).not.toHaveProperty('tenant');
  });

  it.each([
    [10, 10],
    [60, 60],
    [600, 60],
    [0, 1],
    [-5, 1],
    [30.9, 30],
  ])('lives ttlSeconds %s -> %s s: never more than 60 s', async (ttl, expected) => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const minted = await mintToken(key, request({ ttlSeconds: ttl }), NOW);
    const { payload } = await verify(key, minted.token);
    expect(payload.exp! - payload.iat!).toBe(expected);
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
  });

  it('is refused by a verifier once expired', async () => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const minted = await mintToken(key, request({ ttlSeconds: 5 }), NOW);
    await expect(verify(key, minted.token, minted.expiresAt + 1000)).rejects.toThrow(/"exp"/);
  });

  it('gives every token its own jti, also within the same second', async () => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const minted = await Promise.all(Array.from({ length: 2000 }, () => mintToken(key, request(), NOW)));
    const ids = new Set(minted.map((token) => token.tokenId));
    expect(ids.size).toBe(2000);
  });

  it.each([
    ['EC P-256', 'ec', { namedCurve: 'P-256' }],
    ['EC P-384', 'ec', { namedCurve: 'P-384' }],
    ['RSA', 'rsa', { modulusLength: 2048 }],
    ['Ed25519', 'ed25519', {}],
  ] as const)('signs with an %s key in a form jose verifies', async (_name, type, options) => {
    const key = await keyOf(type, options);
    const minted = await mintToken(key, request(), NOW);
    expect(decodeProtectedHeader(minted.token).alg).toBe(key.alg);
    await expect(verify(key, minted.token)).resolves.toBeDefined();
  });

  it('signs RSA off the event loop and elliptic-curve and Ed25519 keys on it', async () => {
    const rsa = await keyOf('rsa', { modulusLength: 2048 });
    const pending = mintToken(rsa, request(), NOW);
    expect(pending).toBeInstanceOf(Promise);
    await expect(verify(rsa, (await pending).token)).resolves.toBeDefined();
    for (const key of [
      await keyOf('ec', { namedCurve: 'P-256' }),
      await keyOf('ec', { namedCurve: 'P-384' }),
      await keyOf('ed25519'),
    ])
      expect(mintToken(key, request(), NOW)).not.toBeInstanceOf(Promise);
  });

  it('rejects, never throws, when the pool cannot sign with the key', async () => {
    const rsa = await keyOf('rsa', { modulusLength: 2048 });
    const publicOnly = { ...rsa, privateKey: createPublicKey(rsa.privateKey) };
    const pending = mintToken(publicOnly, request(), NOW);
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toThrow();
  });

  it('keeps an inbound delegation chain as prior actors under act', async () => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const delegated = principal({
      agent: 'research-agent',
      claims: { sub: 'alice', act: { sub: 'research-agent', act: { sub: 'orchestrator' } } },
    });
    const { payload } = await verify(
      key,
      (await mintToken(key, request({ principal: delegated }), NOW)).token,
    );
    expect(payload['act']).toEqual({ sub: 'research-agent', act: { sub: 'orchestrator' } });
  });

  it('does not verify with another audience or another key', async () => {
    const key = await keyOf('ec', { namedCurve: 'P-256' });
    const other = await keyOf('ec', { namedCurve: 'P-256' });
    const minted = await mintToken(key, request({ audience: 'https://other.internal' }), NOW);
    await expect(verify(key, minted.token)).rejects.toThrow(/"aud"/);
    await expect(verify(other, (await mintToken(key, request(), NOW)).token)).rejects.toThrow();
  });
});
