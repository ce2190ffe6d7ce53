import type { JWTVerifyGetKey } from 'jose';
import { createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthResult } from './authenticator.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';
import { startJsonServer, type JsonServer } from '../../test/fixtures/auth/json-server.ts';
import {
  jwksOf,
  signingKey,
  signToken,
  type AsymmetricAlg,
  type SigningKey,
} from '../../test/fixtures/auth/signing-keys.ts';

const NOW = 1_800_000_000_000;
const nowS = NOW / 1000;
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const ALGS: AsymmetricAlg[] = ['RS256', 'ES256', 'PS256', 'EdDSA'];

let server: JsonServer;
let issuer: string;
const keys = new Map<AsymmetricAlg, SigningKey>();

beforeAll(async () => {
  server = await startJsonServer();
  issuer = `${server.origin}/realms/acme`;
  for (const alg of ALGS) keys.set(alg, await signingKey(alg, `${alg.toLowerCase()}-1`));
  server.serve('/jwks', jwksOf(...keys.values()));
});
afterAll(() => server.close());

function key(alg: AsymmetricAlg): SigningKey {
  const found = keys.get(alg);
  if (found === undefined) throw new Error(alg);
  return found;
}

function claims(extra: Record<string, unknown> = {}) {
  return {
    iss: issuer,
    aud: AUDIENCE,
    sub: 'alice',
    client_id: 'claude-desktop',
    iat: nowS - 10,
    exp: nowS + 300,
    jti: 'token-1',
    scope: 'invoices:read invoices:write',
    groups: ['support', 'finance'],
    tenant: 'acme',
    ...extra,
  };
}

function expectOk(result: AuthResult) {
  if (!result.ok) throw new Error(`expected success, got ${result.failure.code}: ${result.failure.reason}`);
  return result;
}

describe('createAuthenticator with a JWKS served over HTTP', () => {
  it.each(ALGS)('accepts a valid %s token and maps the principal', async (alg) => {
    const auth = createAuthenticator(
      authSettings({
        issuer,
        jwksUri: `${server.origin}/jwks`,
        claims: { user: 'sub', agent: 'client_id', groups: 'groups', tenant: 'tenant' },
      }),
      { clock: () => NOW },
    );
    const token = await signToken(key(alg), claims());
    const result = expectOk(await auth.authenticate(`Bearer ${token}`));
    expect(result.principal).toEqual({
      user: 'alice',
      agent: 'claude-desktop',
      tenant: 'acme',
      groups: ['support', 'finance'],
      scopes: ['invoices:read', 'invoices:write'],
      claims: claims(),
    });
    expect(result.tokenId).toBe('token-1');
    expect(result.expiresAt).toBe((nowS + 300) * 1000);
    expect(JSON.stringify(result)).not.toContain(token.split('.')[2]);
  });

  it('finds the JWKS through OpenID discovery when no jwksUri is configured', async () => {
    const local = await startJsonServer();
    try {
      const localIssuer = `${local.origin}/realms/acme`;
      local.serve('/realms/acme/.well-known/openid-configuration', {
        issuer: localIssuer,
        jwks_uri: `${local.origin}/certs`,
      });
      local.serve('/certs', jwksOf(key('ES256')));
      const auth = createAuthenticator(authSettings({ issuer: localIssuer }), { clock: () => NOW });
      const token = await signToken(key('ES256'), claims({ iss: localIssuer }));
      expectOk(await auth.authenticate(`Bearer ${token}`));
      expect(local.hits('/realms/acme/.well-known/openid-configuration')).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('falls back to RFC 8414 authorization server metadata', async () => {
    const local = await startJsonServer();
    try {
      const localIssuer = `${local.origin}/tenant-a`;
      local.serve('/.well-known/oauth-authorization-server/tenant-a', {
        issuer: localIssuer,
        jwks_uri: `${local.origin}/keys`,
      });
      local.serve('/keys', jwksOf(key('RS256')));
      const auth = createAuthenticator(authSettings({ issuer: localIssuer }), { clock: () => NOW });
      expectOk(
        await auth.authenticate(`Bearer ${await signToken(key('RS256'), claims({ iss: localIssuer }))}`),
      );
      expect(local.hits('/tenant-a/.well-known/openid-configuration')).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('refuses keys from a discovery document that names another issuer', async () => {
    const local = await startJsonServer();
    try {
      const localIssuer = `${local.origin}/realms/acme`;
      local.serve('/realms/acme/.well-known/openid-configuration', {
        issuer: 'https://evil.example.com',
        jwks_uri: `${local.origin}/certs`,
      });
      local.serve('/certs', jwksOf(key('ES256')));
      const auth = createAuthenticator(authSettings({ issuer: localIssuer }), { clock: () => NOW });
      const result = await auth.authenticate(
        `Bearer ${await signToken(key('ES256'), claims({ iss: localIssuer }))}`,
      );
      expect(result).toMatchObject({
        ok: false,
        // A misconfigured identity provider is our fault, not the token's: retryable, the cause in detail.
        failure: { code: 'auth_unavailable', detail: expect.stringContaining('different issuer') },
      });
      expect(local.hits('/certs')).toBe(0);
    } finally {
      await local.close();
    }
  });

  it('reports insufficient_scope naming exactly the missing required scopes', async () => {
    const auth = createAuthenticator(
      authSettings({
        issuer,
        jwksUri: `${server.origin}/jwks`,
        requiredScopes: ['invoices:read', 'mcp:call', 'admin'],
      }),
      { clock: () => NOW },
    );
    const result = await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'insufficient_scope', missingScopes: ['mcp:call', 'admin'] },
    });
  });

  it('accepts scopes from an scp array when there is no scope claim', async () => {
    const auth = createAuthenticator(
      authSettings({ issuer, jwksUri: `${server.origin}/jwks`, requiredScopes: ['a', 'b'] }),
      {
        clock: () => NOW,
      },
    );
    const result = await auth.authenticate(
      `Bearer ${await signToken(key('ES256'), claims({ scope: undefined, scp: ['a', 'b'] }))}`,
    );
    expect(expectOk(result).principal.scopes).toEqual(['a', 'b']);
  });

  it('accepts a configured audience instead of publicUrl, alone or as a one-element array', async () => {
    const auth = createAuthenticator(
      authSettings({ issuer, jwksUri: `${server.origin}/jwks`, audience: 'urn:acme:billing' }),
      { clock: () => NOW },
    );
    for (const aud of ['urn:acme:billing', ['urn:acme:billing']]) {
      expectOk(await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims({ aud }))}`));
    }
    const publicUrlOnly = await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`);
    expect(publicUrlOnly).toMatchObject({ ok: false, failure: { code: 'invalid_token' } });
  });

  it('refuses an audience array naming other resources too, unless allowSharedAudience is on', async () => {
    const token = await signToken(key('ES256'), claims({ aud: ['other', 'urn:acme:billing'] }));
    const settings = { issuer, jwksUri: `${server.origin}/jwks`, audience: 'urn:acme:billing' };
    const strict = createAuthenticator(authSettings(settings), { clock: () => NOW });
    expect(await strict.authenticate(`Bearer ${token}`)).toMatchObject({
      ok: false,
      failure: { code: 'invalid_token', reason: expect.stringMatching(/allowSharedAudience/) },
    });
    const shared = createAuthenticator(authSettings({ ...settings, allowSharedAudience: true }), {
      clock: () => NOW,
    });
    expectOk(await shared.authenticate(`Bearer ${token}`));
    // Opting in never accepts an array without ours.
    const without = await signToken(key('ES256'), claims({ aud: ['other', 'another'] }));
    expect(await shared.authenticate(`Bearer ${without}`)).toMatchObject({ ok: false });
  });

  it('freezes results, so a later stage cannot change what the cache serves to others', async () => {
    const auth = createAuthenticator(authSettings({ issuer, jwksUri: `${server.origin}/jwks` }), {
      clock: () => NOW,
    });
    const result = expectOk(await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`));
    expect(Object.isFrozen(result.principal.claims)).toBe(true);
    expect(Object.isFrozen(result.principal.claims.groups)).toBe(true);
    expect(Object.isFrozen(result.principal.scopes)).toBe(true);
  });

  it('refuses configured symmetric algorithms at construction', () => {
    const settings = { ...authSettings({ issuer }), algorithms: ['RS256', 'HS256'] } as unknown as Parameters<
      typeof createAuthenticator
    >[0];
    expect(() => createAuthenticator(settings)).toThrow(/HS256/);
    const none = { ...authSettings({ issuer }), algorithms: ['none'] } as unknown as Parameters<
      typeof createAuthenticator
    >[0];
    expect(() => createAuthenticator(none)).toThrow(/none/);
  });

  it('fails closed after close()', async () => {
    const auth = createAuthenticator(authSettings({ issuer, jwksUri: `${server.origin}/jwks` }), {
      clock: () => NOW,
    });
    auth.close?.();
    const result = await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'auth_unavailable', detail: expect.stringContaining('closed') },
    });
  });
});

describe('the verified-token cache', () => {
  function countingResolver(): { resolver: JWTVerifyGetKey; calls: () => number } {
    const local = createLocalJWKSet(jwksOf(...keys.values()));
    let calls = 0;
    return {
      resolver: (header, token) => {
        calls += 1;
        return local(header, token);
      },
      calls: () => calls,
    };
  }

  it('verifies a token once and serves repeats from the cache', async () => {
    const { resolver, calls } = countingResolver();
    const auth = createAuthenticator(authSettings({ issuer }), { clock: () => NOW, jwks: resolver });
    const header = `Bearer ${await signToken(key('ES256'), claims())}`;
    const first = expectOk(await auth.authenticate(header));
    const second = expectOk(await auth.authenticate(header));
    expect(calls()).toBe(1);
    expect(second).toBe(first);
  });

  it('is keyed by the whole token: the same claims under another signature are verified again', async () => {
    const { resolver, calls } = countingResolver();
    const auth = createAuthenticator(authSettings({ issuer }), { clock: () => NOW, jwks: resolver });
    // ECDSA signatures are randomised: same claims, two different tokens.
    expectOk(await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`));
    expectOk(await auth.authenticate(`Bearer ${await signToken(key('ES256'), claims())}`));
    expect(calls()).toBe(2);
  });

  it('refuses a cached token once it has expired (exp plus clock skew)', async () => {
    let now = NOW;
    const { resolver } = countingResolver();
    const auth = createAuthenticator(authSettings({ issuer }), { clock: () => now, jwks: resolver });
    const header = `Bearer ${await signToken(key('ES256'), claims({ exp: nowS + 60 }))}`;
    expectOk(await auth.authenticate(header));
    now = (nowS + 60 + 30) * 1000 - 1;
    expectOk(await auth.authenticate(header));
    now += 1;
    expect(await auth.authenticate(header)).toMatchObject({
      ok: false,
      failure: { code: 'invalid_token', reason: 'token expired' },
    });
  });

  it('re-verifies a cached token after the key-set trust window, so a removed key stops working', async () => {
    let now = NOW;
    let published = jwksOf(key('ES256'));
    const auth = createAuthenticator(authSettings({ issuer }), {
      clock: () => now,
      jwks: (header, token) => createLocalJWKSet(published)(header, token),
      keysMaxAgeMs: 60_000,
    });
    const header = `Bearer ${await signToken(key('ES256'), claims({ exp: nowS + 3600 }))}`;
    expectOk(await auth.authenticate(header));
    published = jwksOf(key('RS256'));
    now += 59_000;
    expectOk(await auth.authenticate(header));
    now += 1_000;
    expect(await auth.authenticate(header)).toMatchObject({ ok: false, failure: { code: 'invalid_token' } });
  });

  it('does not cache refusals', async () => {
    const { resolver, calls } = countingResolver();
    const auth = createAuthenticator(authSettings({ issuer, requiredScopes: ['admin'] }), {
      clock: () => NOW,
      jwks: resolver,
    });
    const header = `Bearer ${await signToken(key('ES256'), claims())}`;
    await auth.authenticate(header);
    await auth.authenticate(header);
    expect(calls()).toBe(2);
  });
});
