import { generateKeyPairSync } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { principal } from '../../test/fixtures/principals.ts';
import { DEFAULT_RETAIN_MS, KeyRing, MAX_MINTED_TTL_SECONDS } from './key-ring.ts';
import { mintToken } from './minter.ts';
import { parseSigningKey, type SigningKey } from './signing-key.ts';

const T0 = 1_800_000_000_000;
const newKey = () =>
  parseSigningKey(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string,
  );
const kids = (ring: KeyRing, now: number) =>
  (JSON.parse(ring.jwks(now)) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

let first: SigningKey;
let second: SigningKey;
let third: SigningKey;
beforeAll(async () => {
  [first, second, third] = await Promise.all([newKey(), newKey(), newKey()]);
});

describe('KeyRing', () => {
  it('publishes nothing before a key is installed, then the current key', () => {
    const ring = new KeyRing();
    expect(ring.current).toBeUndefined();
    expect(JSON.parse(ring.jwks(T0))).toEqual({ keys: [] });
    ring.install(first, T0);
    expect(ring.current).toBe(first);
    expect(JSON.parse(ring.jwks(T0))).toEqual({ keys: [first.publicJwk] });
  });

  it('keeps a replaced public key for at least one maximum token lifetime, then drops it', () => {
    expect(DEFAULT_RETAIN_MS).toBeGreaterThanOrEqual(MAX_MINTED_TTL_SECONDS * 1000);
    const ring = new KeyRing();
    ring.install(first, T0);
    ring.install(second, T0 + 1_000);
    expect(ring.current).toBe(second);
    expect(kids(ring, T0 + 1_000)).toEqual([second.kid, first.kid]);
    expect(kids(ring, T0 + 1_000 + MAX_MINTED_TTL_SECONDS * 1000)).toEqual([second.kid, first.kid]);
    expect(kids(ring, T0 + 1_000 + DEFAULT_RETAIN_MS - 1)).toEqual([second.kid, first.kid]);
    expect(kids(ring, T0 + 1_000 + DEFAULT_RETAIN_MS)).toEqual([second.kid]);
  });

  it('a token signed just before a rotation still verifies against the JWKS until it expires', async () => {
    const ring = new KeyRing();
    ring.install(first, T0);
    const request = {
      issuer: 'https://billing.mcp.example.com/mcp',
      audience: 'https://billing-api.internal',
      ttlSeconds: 60,
      principal: principal(),
      scopes: ['tool:read_invoice'],
    };
    const before = await mintToken(ring.current!, request, T0);
    ring.install(second, T0 + 500);
    const after = await mintToken(ring.current!, request, T0 + 500);
    const verifyAt = async (token: string, now: number) =>
      jwtVerify(token, createLocalJWKSet(JSON.parse(ring.jwks(now))), {
        currentDate: new Date(now),
        audience: request.audience,
      });
    // Just before the old token's expiry, both verify.
    await expect(verifyAt(before.token, before.expiresAt - 1000)).resolves.toBeDefined();
    await expect(verifyAt(after.token, before.expiresAt - 1000)).resolves.toBeDefined();
    expect((await verifyAt(after.token, T0 + 500)).protectedHeader.kid).toBe(second.kid);
    // After the retention the old key is gone (its tokens had expired long before).
    await expect(verifyAt(before.token, T0 + 500 + DEFAULT_RETAIN_MS)).rejects.toThrow();
  });

  it('installing the current key again changes nothing; going back to a retired key un-retires it', () => {
    const ring = new KeyRing({ retainMs: 10_000 });
    ring.install(first, T0);
    ring.install(first, T0 + 1);
    expect(kids(ring, T0 + 1)).toEqual([first.kid]);
    ring.install(second, T0 + 2);
    ring.install(first, T0 + 3);
    expect(kids(ring, T0 + 3)).toEqual([first.kid, second.kid]);
    ring.install(third, T0 + 4);
    expect(kids(ring, T0 + 4)).toEqual([third.kid, second.kid, first.kid]);
    expect(kids(ring, T0 + 10_003)).toEqual([third.kid, first.kid]);
    expect(kids(ring, T0 + 10_004)).toEqual([third.kid]);
  });
});
