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
  /** How long a refusal (invalid_token) is reused. Default NEGATIVE_TTL_MS. */
  readonly negativeTtlMs?: number;
  readonly maxEntries: number;
  readonly clock: () => number;
  /**
   * Refuse without asking a token that is not a JWT with an exp: right for sidecars (projected
   * service-account tokens always are), wrong for readers (a static or bootstrap token is not a JWT).
   */
  readonly requireJwt?: boolean;
  /** Called once per verification the inner authenticator made (a TokenReview, a signature check). */
  readonly onVerified?: (result: 'ok' | 'refused' | 'unavailable') => void;
}

/**
 * Refusals are reused this long: long enough that a client hammering with one bad token costs one
 * TokenReview per few seconds instead of one per request (32 connections made ~24,000 in 15 s), short
 * enough that a token refused for a passing reason (a just-created account) works again soon.
 */
export const NEGATIVE_TTL_MS = 5_000;

/**
 * Positive results are reused for ttlMs (bounded by the token's exp), so a shipper's every batch is not a
 * TokenReview; concurrent checks of one token share one review. Refusals are reused for negativeTtlMs
 * (NEGATIVE_TTL_MS), so a bad token repeated is not a TokenReview per request, and a token whose exp has
 * passed (with requireJwt, also one that is not a JWT) is refused without asking at all. "Could not check" (auth_unavailable) is never cached. The price of caching:
 * a deleted ServiceAccount's token keeps working for up to ttlMs.
 */
export function cachedAuthenticator(inner: TokenAuthenticator, options: CacheOptions): TokenAuthenticator {
  const cache = new TokenCache<Authenticated>(options.maxEntries);
  const refused = new TokenCache<CollectorError>(options.maxEntries);
  const negativeTtlMs = options.negativeTtlMs ?? NEGATIVE_TTL_MS;
  const inFlight = new Map<string, Promise<Authenticated>>();
  return {
    authenticate(token) {
      const key = tokenCacheKey(token);
      const now = options.clock();
      const hit = cache.get(key, now);
      if (hit !== undefined) return Promise.resolve(hit);
      const refusal = refused.get(key, now);
      if (refusal !== undefined) return Promise.reject(refusal);
      const pending = inFlight.get(key);
      if (pending !== undefined) return pending;
      const expiresAt = expiryOf(token);
      if ((expiresAt === undefined && options.requireJwt === true) || (expiresAt ?? Infinity) <= now) {
        const error = invalidToken(
          expiresAt === undefined ? 'not a JWT with an exp' : 'the token has expired',
        );
        refused.set(key, error, now + negativeTtlMs);
        return Promise.reject(error);
      }
      const review = inner
        .authenticate(token)
        .then(
          (result) => {
            options.onVerified?.('ok');
            const until = result.expiresAt ?? expiresAt ?? Number.POSITIVE_INFINITY;
            cache.set(key, result, Math.min(now + options.ttlMs, until));
            return result;
          },
          (error: unknown) => {
            const code = error instanceof CollectorError ? error.code : undefined;
            options.onVerified?.(code === 'invalid_token' ? 'refused' : 'unavailable');
            if (code === 'invalid_token') refused.set(key, error as CollectorError, now + negativeTtlMs);
            throw error;
          },
        )
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
