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

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, now: number): Value | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.validUntil) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: Value, validUntil: number): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, validUntil });
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
