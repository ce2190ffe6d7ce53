import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey, type LocalJWKSet } from 'jose';
import { fetchFailureKind, type FetchFailureKind, type JsonFetcher } from './http-json.ts';

/**
 * Signing keys could not be obtained; verification fails closed. The message is for logs and audit (it
 * may name the identity provider's URL and TLS details), never for the caller.
 */
export class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable';
  /** When the next fetch attempt is allowed (whole seconds, at least 1): a meaningful Retry-After. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** One fetch attempt of the key set (discovery included), for metrics and logs. */
export type KeyFetchResult =
  | { readonly ok: true; readonly keys: number }
  | { readonly ok: false; readonly kind: FetchFailureKind; readonly error: string };

export interface RemoteKeySetOptions {
  /** Returns the JWKS URL (the configured one, or discovered); asked again after a failed fetch. */
  readonly locate: (signal: AbortSignal) => Promise<string>;
  readonly fetchJson: JsonFetcher;
  readonly clock: () => number;
  readonly fetchTimeoutMs: number;
  /** At most one fetch attempt (successful or not) per this many milliseconds. */
  readonly refetchCooldownMs: number;
  /** Keys older than this are refreshed in the background while still in use. */
  readonly maxAgeMs: number;
  /** How long past maxAge keys stay usable while refreshes fail; after that verification fails closed. */
  readonly maxStaleMs: number;
  /** Told the result of every fetch attempt. Must not throw. */
  readonly onFetch?: (result: KeyFetchResult) => void;
}

export interface RemoteKeySet {
  /** A jose key resolver: picks the key by the token's alg and kid from the cached key set. */
  readonly resolve: JWTVerifyGetKey;
  close(): void;
}

const MAX_JWKS_BYTES = 512 * 1024;

/**
 * A cached JWKS with rotation. jose's createRemoteJWKSet is close, but it reads Date.now (no injectable
 * clock), lets a failed fetch be retried by every request (an outage plus tokens with random kids would
 * turn each request into a fetch), drops all keys when a refresh fails, and cannot do issuer discovery.
 * We keep jose for what it is good at: selecting and importing the key (createLocalJWKSet).
 */
export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  const { clock, refetchCooldownMs, maxAgeMs, maxStaleMs } = options;
  const closing = new AbortController();
  let keys: LocalJWKSet | undefined;
  let fetchedAt = -Infinity;
  let lastAttemptAt = -Infinity;
  let lastError: string | undefined;
  let inFlight: Promise<void> | undefined;
  let jwksUrl: string | undefined;

  const usable = (now: number) => keys !== undefined && now - fetchedAt < maxAgeMs + maxStaleMs;
  const mayAttempt = (now: number) => now - lastAttemptAt >= refetchCooldownMs;

  async function load(): Promise<{ keys: LocalJWKSet; count: number }> {
    const fetchOptions = {
      timeoutMs: options.fetchTimeoutMs,
      maxBytes: MAX_JWKS_BYTES,
      signal: closing.signal,
    };
    jwksUrl ??= await options.locate(closing.signal);
    const document = (await options.fetchJson(jwksUrl, fetchOptions)) as JSONWebKeySet;
    const loaded = createLocalJWKSet(document);
    return { keys: loaded, count: Array.isArray(document.keys) ? document.keys.length : 0 };
  }

  /** Starts (or joins) a fetch; never rejects, a failure is remembered as lastError. */
  function refresh(): Promise<void> {
    if (inFlight !== undefined) return inFlight;
    lastAttemptAt = clock();
    inFlight = load()
      .then(
        (loaded) => {
          keys = loaded.keys;
          fetchedAt = clock();
          lastError = undefined;
          options.onFetch?.({ ok: true, keys: loaded.count });
        },
        (error: unknown) => {
          lastError = error instanceof Error ? error.message : String(error);
          // The issuer may have moved its key set; discover again next time.
          jwksUrl = undefined;
          if (!closing.signal.aborted)
            options.onFetch?.({ ok: false, kind: fetchFailureKind(error), error: lastError });
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  /** Waits for a fetch if one is running or allowed now; false when the cooldown forbids one. */
  async function refreshIfAllowed(): Promise<boolean> {
    if (inFlight === undefined && !mayAttempt(clock())) return false;
    await refresh();
    return true;
  }

  function unavailable(): KeysUnavailable {
    if (closing.signal.aborted) return new KeysUnavailable('authenticator is closed', 1);
    const retryAfterSeconds = Math.max(1, Math.ceil((lastAttemptAt + refetchCooldownMs - clock()) / 1000));
    return new KeysUnavailable(
      `signing keys unavailable: ${lastError ?? 'not fetched yet (retry after cooldown)'}`,
      retryAfterSeconds,
    );
  }

  async function current(): Promise<LocalJWKSet> {
    if (closing.signal.aborted) throw unavailable();
    if (!usable(clock())) {
      await refreshIfAllowed();
    } else if (clock() - fetchedAt >= maxAgeMs && mayAttempt(clock())) {
      // Stale-while-revalidate: this request uses the keys we have, later ones get the fresh set.
      void refresh();
    }
    if (keys === undefined || !usable(clock())) throw unavailable();
    return keys;
  }

  const resolve: JWTVerifyGetKey = async (header, token) => {
    const before = await current();
    try {
      return await before(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // An unknown kid may be a freshly rotated key: look again, but at most once per cooldown, so that
      // tokens with made-up kids cannot make us hammer the issuer.
      if (!(await refreshIfAllowed())) throw error;
      if (lastError !== undefined) throw unavailable();
      return (await current())(header, token);
    }
  };

  return {
    resolve,
    close() {
      closing.abort();
    },
  };
}
