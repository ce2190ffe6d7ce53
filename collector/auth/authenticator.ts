import { decodeJwt } from 'jose';
import { CollectorError } from '../errors.ts';
import { TokenCache, tokenCacheKey } from '../../lib/token-cache.ts';

/** A user as Kubernetes describes one (TokenReview status.user): what a SubjectAccessReview needs. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

export interface Authenticated {
  readonly user: UserInfo;
  /** When the token expires (ms since the epoch), when known: no cache entry outlives it. */
  readonly expiresAt?: number;
}

/**
 * Turns a bearer token into a user, or throws a CollectorError: invalid_token (401) when the token is
 * refused, auth_unavailable (503, retry) when it could not be checked. Never logs the token.
 */
export interface TokenAuthenticator {
  authenticate(token: string): Promise<Authenticated>;
  close?(): void;
}

export interface CacheOptions {
  /** How long a positive result is reused (never past the token's exp). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly clock: () => number;
}

/**
 * Positive results are reused for ttlMs (bounded by the token's exp), so a shipper's every batch is not a
 * TokenReview; concurrent checks of one token share one review. Refusals are not cached: a token that
 * becomes valid (a clock skew, a just-created account) is not refused longer than needed. The price of
 * caching: a deleted ServiceAccount's token keeps working for up to ttlMs.
 */
export function cachedAuthenticator(inner: TokenAuthenticator, options: CacheOptions): TokenAuthenticator {
  const cache = new TokenCache<Authenticated>(options.maxEntries);
  const inFlight = new Map<string, Promise<Authenticated>>();
  return {
    authenticate(token) {
      const key = tokenCacheKey(token);
      const now = options.clock();
      const hit = cache.get(key, now);
      if (hit !== undefined) return Promise.resolve(hit);
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      const review = inner
        .authenticate(token)
        .then((result) => {
          const expiresAt = result.expiresAt ?? expiryOf(token);
          cache.set(key, result, Math.min(now + options.ttlMs, expiresAt ?? Number.POSITIVE_INFINITY));
          return result;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, review);
      return review;
    },
    close: () => inner.close?.(),
  };
}

/** The exp of a JWT, read without verification: it only ever shortens how long a result is cached. */
export function expiryOf(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function invalidToken(message: string): CollectorError {
  return new CollectorError('invalid_token', message);
}
