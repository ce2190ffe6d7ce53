import type { JWTVerifyGetKey } from 'jose';
import type { Dispatcher } from 'undici';
import type { Principal } from '../../policy/principal.ts';
import { pinnedAlgorithms } from './algorithms.ts';
import { bearerToken } from './bearer.ts';
import { discoverJwksUri } from './discovery.ts';
import { insufficientScope, invalidToken, type AuthFailure } from './failure.ts';
import { withHeaderPolicy } from './header-policy.ts';
import { fetchJson as fetchJsonDefault, type JsonFetcher } from './http-json.ts';
import { principalFromClaims } from './principal-claims.ts';
import { createRemoteKeySet, type KeyFetchResult, type RemoteKeySet } from './remote-key-set.ts';
import { missingScopes } from './scopes.ts';
import { expectedAudience, type AuthSettings } from './settings.ts';
import { tokenCacheKey, TokenCache } from '../../lib/token-cache.ts';
import { createTokenVerifier, type VerifiedClaims } from './verify.ts';

export type { AuthFailure } from './failure.ts';

export type AuthResult =
  | {
      readonly ok: true;
      readonly principal: Principal;
      /** The token's jti, when it has one (for audit and replay detection). */
      readonly tokenId?: string;
      /** When the token expires, in epoch milliseconds. */
      readonly expiresAt: number;
      /** Identity comes from the verified token only, never from the client's self-reported clientInfo. */
      readonly clientInfoIgnored?: never;
    }
  | { readonly ok: false; readonly failure: AuthFailure };

/**
 * The inbound authentication stage of an OAuth 2.1 resource server. The token is verified and then
 * dropped: results hold the principal, never the token.
 */
export interface Authenticator {
  /** Never throws and never rejects: every refusal is an AuthResult with ok false. */
  authenticate(authorization: string | undefined): Promise<AuthResult>;
  close?(): void;
}

export interface AuthenticatorOptions {
  /** Epoch milliseconds; used for token time checks, the cache and the JWKS refresh schedule. */
  readonly clock?: () => number;
  /** A jose key resolver used instead of fetching the JWKS (tests, offline mode). */
  readonly jwks?: JWTVerifyGetKey;
  /** Timeout of each discovery or JWKS request. Default 5 s. */
  readonly fetchTimeoutMs?: number;
  /** Verified tokens remembered. Default 10,000; 0 disables the cache. */
  readonly cacheSize?: number;
  /** At most one JWKS fetch attempt per this interval (unknown kids, failures). Default 10 s. */
  readonly refetchCooldownMs?: number;
  /** Keys older than this are refreshed in the background. Default 10 min. */
  readonly keysMaxAgeMs?: number;
  /** How long past keysMaxAgeMs keys stay in use while the JWKS cannot be fetched. Default 1 h. */
  readonly keysMaxStaleMs?: number;
  /** The identity provider's connections (its CA, see idp-trust.ts), asked per fetch; default: system roots. */
  readonly dispatcher?: () => Dispatcher | undefined;
  /** Told the result of every discovery + JWKS fetch attempt (metrics, logs). */
  readonly onKeyFetch?: (result: KeyFetchResult) => void;
}

const MAX_DISCOVERY_BYTES = 256 * 1024;

export function createAuthenticator(
  settings: AuthSettings,
  options: AuthenticatorOptions = {},
): Authenticator {
  const clock = options.clock ?? Date.now;
  const cacheSize = nonNegative('cacheSize', options.cacheSize, 10_000);
  const keysMaxAgeMs = nonNegative('keysMaxAgeMs', options.keysMaxAgeMs, 10 * 60_000);
  const skewMs = settings.clockSkewSeconds * 1000;
  const requiredScopes = settings.requiredScopes ?? [];

  const remote =
    options.jwks === undefined ? remoteKeySetFor(settings, clock, options, keysMaxAgeMs) : undefined;
  const keys = options.jwks ?? remote?.resolve;
  if (keys === undefined) throw new TypeError('createAuthenticator: no key source');
  const verify = createTokenVerifier({
    issuer: settings.issuer,
    audience: expectedAudience(settings),
    allowSharedAudience: settings.allowSharedAudience,
    algorithms: pinnedAlgorithms(settings.algorithms),
    clockSkewSeconds: settings.clockSkewSeconds,
    keys: withHeaderPolicy(keys),
    clock,
  });
  const cache = new TokenCache<AuthResult>(cacheSize);

  async function authenticateToken(token: string): Promise<AuthResult> {
    const key = tokenCacheKey(token);
    const cached = cache.get(key, clock());
    if (cached !== undefined) return cached;

    const verified = await verify(token);
    if (!verified.ok) return verified;
    const claims = deepFreeze(verified.claims);
    const mapped = principalFromClaims(claims, settings.claims);
    if (!mapped.ok) return mapped;
    const missing = missingScopes(requiredScopes, mapped.principal.scopes);
    if (missing.length > 0) return { ok: false, failure: insufficientScope(missing) };

    const result = authenticated(mapped.principal, claims);
    // Served from the cache no longer than verification would accept the token (exp plus skew), and
    // no longer than the key set is trusted without a refresh, so a key removed from the JWKS stops
    // working for cached tokens too.
    cache.set(key, result, Math.min(claims.exp * 1000 + skewMs, clock() + keysMaxAgeMs));
    return result;
  }

  return {
    async authenticate(authorization) {
      try {
        const bearer = bearerToken(authorization);
        return bearer.ok ? await authenticateToken(bearer.token) : bearer;
      } catch (error) {
        // A defect, not a verdict on the token; still fail closed.
        return {
          ok: false,
          failure: invalidToken(`internal error: ${error instanceof Error ? error.message : 'unknown'}`),
        };
      }
    },
    close() {
      remote?.close();
      cache.clear();
    },
  };
}

/** The issuer's JWKS (configured, or found by discovery), cached and refreshed. */
function remoteKeySetFor(
  settings: AuthSettings,
  clock: () => number,
  options: AuthenticatorOptions,
  keysMaxAgeMs: number,
): RemoteKeySet {
  const { jwksUri, issuer } = settings;
  const fetchTimeoutMs = nonNegative('fetchTimeoutMs', options.fetchTimeoutMs, 5_000);
  const { dispatcher } = options;
  // The trust is asked per fetch, so a rotated CA file applies to the next fetch.
  const fetchJson: JsonFetcher =
    dispatcher === undefined
      ? fetchJsonDefault
      : (url, fetchOptions) => {
          const via = dispatcher();
          return fetchJsonDefault(url, via ? { ...fetchOptions, dispatcher: via } : fetchOptions);
        };
  return createRemoteKeySet({
    locate:
      jwksUri !== undefined
        ? () => Promise.resolve(jwksUri)
        : (signal) =>
            discoverJwksUri(issuer, fetchJson, {
              timeoutMs: fetchTimeoutMs,
              maxBytes: MAX_DISCOVERY_BYTES,
              signal,
            }),
    fetchJson,
    clock,
    fetchTimeoutMs,
    refetchCooldownMs: nonNegative('refetchCooldownMs', options.refetchCooldownMs, 10_000),
    maxAgeMs: keysMaxAgeMs,
    maxStaleMs: nonNegative('keysMaxStaleMs', options.keysMaxStaleMs, 60 * 60_000),
    ...(options.onKeyFetch ? { onFetch: options.onKeyFetch } : {}),
  });
}

function authenticated(principal: Principal, claims: VerifiedClaims): AuthResult {
  const result: AuthResult = {
    ok: true,
    principal: deepFreeze(principal),
    ...(typeof claims.jti === 'string' ? { tokenId: claims.jti } : {}),
    expiresAt: claims.exp * 1000,
  };
  return Object.freeze(result);
}

/** Cached results are shared by every request bearing the same token; nothing downstream may change them. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0)
    throw new TypeError(`createAuthenticator: ${name} must be a non-negative number`);
  return value;
}
