import { hash } from 'node:crypto';

/**
 * The cache key of a token: its SHA-256. The raw token is never stored, so a heap dump or a cache
 * inspection reveals no usable credential.
 */
export function tokenCacheKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

/**
 * Results of verified tokens: the sidecar's (a client reuses its token on every MCP call, so signature
 * verification is skipped) and the collector's (a shipper's every batch is not one TokenReview). Bounded,
 * least recently used first out. An entry is served only until its validUntil, which the caller sets no
 * later than the moment verification itself would refuse the token.
 */
export class TokenCache<Value> {
  readonly #maxEntries: number;
  // A Map iterates in insertion order; re-inserting on every hit keeps the least recently used first.
  readonly #entries = new Map<string, { readonly value: Value; readonly validUntil: number }>();
  // The key last inserted, i.e. the last in #entries: a hit on it changes nothing in the order. A client
  // sends the same token call after call, and moving an entry costs V8 a new hash table each time (a
  // Map left empty by the delete is shrunk), garbage on every call of the sidecar's hot path. When that key
  // is deleted (expired, evicted) #newest names a key no longer present, which no get() can hit; only
  // set() inserts, and it updates #newest.
  #newest: string | undefined;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): Value | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.validUntil) {
      this.#entries.delete(key);
      return undefined;
    }
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  set(key: string, value: Value, validUntil: number): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, validUntil });
    this.#newest = key;
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
