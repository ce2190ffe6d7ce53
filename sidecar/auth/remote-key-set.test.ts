import { exportJWK } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthenticatorOptions } from './authenticator.ts';
import { AUTH_UNAVAILABLE_REASON } from './failure.ts';
import type { KeyFetchResult } from './remote-key-set.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';
import { startJsonServer, type JsonServer } from '../../test/fixtures/auth/json-server.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../../test/fixtures/auth/signing-keys.ts';

// JWKS caching, rotation and outages, against a real HTTP server and a controlled clock.
const START = 1_800_000_000_000;
const COOLDOWN = 10_000;
const AUDIENCE = 'https://billing.mcp.example.com/mcp';

let oldKey: SigningKey;
let newKey: SigningKey;
beforeAll(async () => {
  oldKey = await signingKey('ES256', 'key-2026');
  newKey = await signingKey('ES256', 'key-2027');
});

interface World {
  server: JsonServer;
  issuer: string;
  now: number;
  auth: ReturnType<typeof createAuthenticator>;
  fetches: () => number;
  tokenFor: (key: SigningKey, kid?: string) => Promise<string>;
}

const opened: JsonServer[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function world(options: AuthenticatorOptions = {}): Promise<World> {
  const server = await startJsonServer();
  opened.push(server);
  const issuer = `${server.origin}/issuer`;
  const w: World = {
    server,
    issuer,
    now: START,
    auth: createAuthenticator(authSettings({ issuer, jwksUri: `${server.origin}/jwks` }), {
      clock: () => w.now,
      refetchCooldownMs: COOLDOWN,
      ...options,
    }),
    fetches: () => server.hits('/jwks'),
    tokenFor: (key, kid) => {
      const s = Math.floor(w.now / 1000);
      return signToken(
        key,
        { iss: issuer, aud: AUDIENCE, sub: 'alice', client_id: 'agent', exp: s + 3600, iat: s },
        kid ? { kid } : {},
      );
    },
  };
  return w;
}

async function code(w: World, token: string): Promise<string> {
  const result = await w.auth.authenticate(`Bearer ${token}`);
  return result.ok ? 'ok' : result.failure.code;
}

describe('JWKS rotation', () => {
  it('accepts a newly published key once the cooldown since the last fetch has passed', async () => {
    const w = await world();
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    expect(w.fetches()).toBe(1);

    w.server.serve('/jwks', jwksOf(oldKey, newKey));
    w.now += COOLDOWN - 1;
    expect(await code(w, await w.tokenFor(newKey))).toBe('invalid_token');
    expect(w.fetches()).toBe(1);

    w.now += 1;
    expect(await code(w, await w.tokenFor(newKey))).toBe('ok');
    expect(w.fetches()).toBe(2);
  });

  it('refuses a rotated-out key once the key set has been refetched', async () => {
    const w = await world();
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.server.serve('/jwks', jwksOf(newKey));
    w.now += COOLDOWN;
    expect(await code(w, await w.tokenFor(newKey))).toBe('ok');
    const result = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'invalid_token', reason: expect.stringMatching(/no key in the JWKS/) },
    });
  });

  it('rate-limits refetches caused by unknown kids to one per cooldown', async () => {
    const w = await world();
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.now += COOLDOWN;
    for (let i = 0; i < 50; i += 1) {
      expect(await code(w, await w.tokenFor(oldKey, `made-up-${i}`))).toBe('invalid_token');
      w.now += 100; // 50 tokens over 5 s: inside one cooldown
    }
    expect(w.fetches()).toBe(2);
    w.now += COOLDOWN;
    await code(w, await w.tokenFor(oldKey, 'made-up-again'));
    expect(w.fetches()).toBe(3);
  });

  it('refreshes keys older than keysMaxAgeMs in the background while still serving the cached ones', async () => {
    const w = await world({ keysMaxAgeMs: 60_000 });
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.server.serve('/jwks', jwksOf(newKey));
    w.now += 60_000;
    // This request is still verified with the cached set (stale-while-revalidate) ...
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    await expect.poll(() => w.fetches()).toBe(2);
    // ... and the next one sees the refreshed set, without another fetch.
    await expect.poll(async () => code(w, await w.tokenFor(oldKey))).toBe('invalid_token');
    expect(await code(w, await w.tokenFor(newKey))).toBe('ok');
    expect(w.fetches()).toBe(2);
  });

  it('shares one fetch between concurrent requests on a cold cache', async () => {
    const w = await world();
    w.server.serve('/jwks', jwksOf(oldKey));
    const tokens = await Promise.all(Array.from({ length: 20 }, () => w.tokenFor(oldKey)));
    const codes = await Promise.all(tokens.map((t) => code(w, t)));
    expect(codes.every((c) => c === 'ok')).toBe(true);
    expect(w.fetches()).toBe(1);
  });
});

describe('JWKS outages fail closed, as retryable auth_unavailable (not invalid_token)', () => {
  it('refuses with a public reason and the cause kept apart, and never throws, when the JWKS server is down', async () => {
    const fetched: KeyFetchResult[] = [];
    const w = await world({ onKeyFetch: (r) => fetched.push(r) });
    await w.server.close();
    const result = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(result).toMatchObject({
      ok: false,
      failure: {
        code: 'auth_unavailable',
        reason: AUTH_UNAVAILABLE_REASON,
        detail: expect.stringMatching(/^signing keys unavailable: .*ECONNREFUSED/),
        // The next fetch is allowed after the cooldown.
        retryAfterSeconds: COOLDOWN / 1000,
      },
    });
    expect(AUTH_UNAVAILABLE_REASON).not.toMatch(/http|127\.0\.0\.1|tls|certificate|ECONN/i);
    expect(fetched).toEqual([
      { ok: false, kind: 'unreachable', error: expect.stringMatching(/ECONNREFUSED/) },
    ]);
    // Retry-After counts down to the next allowed fetch.
    w.now += 7_500;
    const later = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(later).toMatchObject({ ok: false, failure: { retryAfterSeconds: 3 } });
  });

  it('retries a failing JWKS at most once per cooldown', async () => {
    const fetched: KeyFetchResult[] = [];
    const w = await world({ onKeyFetch: (r) => fetched.push(r) });
    w.server.respond('/jwks', 503);
    for (let i = 0; i < 20; i += 1) expect(await code(w, await w.tokenFor(oldKey))).toBe('auth_unavailable');
    expect(w.fetches()).toBe(1);
    expect(fetched).toEqual([{ ok: false, kind: 'http', error: 'HTTP 503' }]);
    w.server.serve('/jwks', jwksOf(oldKey));
    w.now += COOLDOWN;
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    expect(w.fetches()).toBe(2);
    expect(fetched.at(-1)).toEqual({ ok: true, keys: 1 });
  });

  it('keeps using cached keys while refreshes fail, up to keysMaxStaleMs, then fails closed', async () => {
    const w = await world({ keysMaxAgeMs: 60_000, keysMaxStaleMs: 120_000 });
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.server.respond('/jwks', 500);
    w.now += 60_000 + 119_000;
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.now += 1_000;
    const result = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'auth_unavailable', detail: expect.stringMatching(/HTTP 500/) },
    });
  });

  it('answers auth_unavailable for an unknown kid while the refetch it triggers fails', async () => {
    const w = await world();
    w.server.serve('/jwks', jwksOf(oldKey));
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
    w.server.respond('/jwks', 500);
    w.now += COOLDOWN;
    // It may be a freshly rotated key we cannot fetch: not the token's fault.
    expect(await code(w, await w.tokenFor(newKey))).toBe('auth_unavailable');
    // Within the cooldown no fetch is tried, so an unknown kid is simply unknown.
    expect(await code(w, await w.tokenFor(newKey))).toBe('invalid_token');
    // Cached keys keep working meanwhile.
    expect(await code(w, await w.tokenFor(oldKey))).toBe('ok');
  });

  it('does not follow a redirect away from the configured JWKS URL', async () => {
    const w = await world();
    const elsewhere = await startJsonServer();
    opened.push(elsewhere);
    elsewhere.serve('/jwks', jwksOf(oldKey));
    w.server.respond('/jwks', 302, { location: `${elsewhere.origin}/jwks` });
    expect(await code(w, await w.tokenFor(oldKey))).toBe('auth_unavailable');
    expect(elsewhere.hits('/jwks')).toBe(0);
  });

  it('refuses an oversized JWKS', async () => {
    const w = await world();
    w.server.serve('/jwks', { keys: [oldKey.publicJwk], padding: 'x'.repeat(600 * 1024) });
    const result = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(result).toMatchObject({ ok: false, failure: { detail: expect.stringMatching(/larger than/) } });
  });

  it('refuses a JWKS that is not a key set, or that holds private keys', async () => {
    const w = await world();
    w.server.serve('/jwks', { nope: true });
    expect(await code(w, await w.tokenFor(oldKey))).toBe('auth_unavailable');
    w.server.serve('/jwks', {
      keys: [{ ...(await exportJWK(oldKey.privateKey)), kid: oldKey.kid, alg: 'ES256' }],
    });
    w.now += COOLDOWN;
    expect(await code(w, await w.tokenFor(oldKey))).toBe('invalid_token');
  });

  it('gives up on a JWKS server that does not answer within fetchTimeoutMs', async () => {
    const fetched: KeyFetchResult[] = [];
    const w = await world({ fetchTimeoutMs: 200, onKeyFetch: (r) => fetched.push(r) });
    w.server.hang('/jwks');
    const started = performance.now();
    const result = await w.auth.authenticate(`Bearer ${await w.tokenFor(oldKey)}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'auth_unavailable', detail: expect.stringMatching(/signing keys unavailable/) },
    });
    expect(fetched).toMatchObject([{ ok: false, kind: 'timeout' }]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
