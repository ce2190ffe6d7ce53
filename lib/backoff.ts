/**
 * Exponential backoff with full jitter: a random delay up to base * 2^(attempt-1), capped, so many
 * collectors retrying one SIEM spread out. A Retry-After from the destination is a floor.
 */
export function backoffDelay(
  attempt: number,
  options: { baseMs: number; maxMs: number; random: () => number; retryAfterMs?: number | undefined },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.round(options.random() * ceiling);
  return Math.max(jittered, Math.min(options.retryAfterMs ?? 0, options.maxMs));
}

/** The same schedule as a counter of consecutive failures (the shipper's retry loop). */
export class Backoff {
  #failures = 0;
  readonly #options: { baseMs: number; maxMs: number; random: () => number };

  constructor(options: { baseMs?: number; maxMs?: number; random?: () => number } = {}) {
    this.#options = {
      baseMs: options.baseMs ?? 200,
      maxMs: options.maxMs ?? 10_000,
      random: options.random ?? Math.random,
    };
  }

  /** The delay before the next attempt, counting one more failure; never below a quarter of the base. */
  next(): number {
    this.#failures += 1;
    return Math.max(this.#options.baseMs / 4, backoffDelay(this.#failures, this.#options));
  }

  reset(): void {
    this.#failures = 0;
  }

  get failures(): number {
    return this.#failures;
  }
}
