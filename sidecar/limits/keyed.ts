/**
 * Per-key limiter state (a bucket per subject, a counter per session) with bounded memory: at most
 * `maxKeys` entries, least recently used forgotten first, and entries unused for `idleMs` dropped as
 * they are met. Keys come from callers (user names, session ids, tool names that a glob allowed), so
 * without a bound a flood of distinct keys would grow memory without limit.
 *
 * `evictable` guards state that must not be forgotten while in use (a semaphore with holders: dropping
 * it would let a fresh one admit beyond the cap); such entries are skipped, and when nothing can be
 * evicted the map grows past maxKeys rather than break a limit (it cannot grow past what is in use).
 *
 * Map iteration order is insertion order, so re-inserting on use keeps the least recently used first.
 * Pure: time comes in as an argument.
 */
const TOUCH_MS = 1000;

interface Entry<V> {
  readonly value: V;
  seenAt: number;
}

export interface KeyedOptions<V> {
  readonly maxKeys: number;
  /** Entries not used for this long are dropped when met (default: never by age, only by count). */
  readonly idleMs?: number;
  readonly evictable?: (value: V) => boolean;
}

export class KeyedState<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #maxKeys: number;
  readonly #idleMs: number;
  readonly #evictable: ((value: V) => boolean) | undefined;
  /** Entries forgotten to keep within maxKeys (not counting expiry by age). */
  evictions = 0;

  constructor(options: KeyedOptions<V>) {
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1)
      throw new RangeError(`maxKeys must be a positive integer, got ${options.maxKeys}`);
    this.#maxKeys = options.maxKeys;
    this.#idleMs = options.idleMs ?? Infinity;
    this.#evictable = options.evictable;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value for key, created with `create` when absent (or expired); marks it used at `now`. */
  get(key: string, now: number, create: () => V): V {
    const entry = this.#entries.get(key);
    if (entry !== undefined && !this.#expired(entry, now)) {
      // Move to the most recently used end, at most once per TOUCH_MS: recency to the second is
      // enough to choose what to forget, and a hot key then costs one lookup, not a delete and a set.
      if (now - entry.seenAt >= TOUCH_MS) {
        entry.seenAt = now;
        this.#entries.delete(key);
        this.#entries.set(key, entry);
      }
      return entry.value;
    }
    if (entry !== undefined) this.#entries.delete(key);
    const value = create();
    this.#entries.set(key, { value, seenAt: now });
    if (this.#entries.size > this.#maxKeys) this.#evict(now, key);
    return value;
  }

  /** The value for key without creating or touching it. */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  values(): IterableIterator<V> {
    return (function* (entries: Map<string, Entry<V>>) {
      for (const entry of entries.values()) yield entry.value;
    })(this.#entries);
  }

  entries(): IterableIterator<[string, V]> {
    return (function* (entries: Map<string, Entry<V>>) {
      for (const [key, entry] of entries) yield [key, entry.value] as [string, V];
    })(this.#entries);
  }

  /** Drops every entry idle longer than idleMs (a periodic sweep; `get` also drops them when met). */
  sweep(now: number): number {
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (!this.#expired(entry, now)) continue;
      this.#entries.delete(key);
      dropped++;
    }
    return dropped;
  }

  #expired(entry: Entry<V>, now: number): boolean {
    return now - entry.seenAt > this.#idleMs && (this.#evictable?.(entry.value) ?? true);
  }

  /** Forgets least recently used entries down to maxKeys, never `keep` (the entry just created). */
  #evict(now: number, keep: string): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxKeys) return;
      if (key === keep || (this.#evictable && !this.#evictable(entry.value))) continue;
      this.#entries.delete(key);
      if (!this.#expired(entry, now)) this.evictions++;
    }
  }
}
