/**
 * Exponential backoff with full jitter: after n failures, a random delay in [0, min(max, base * 2^n)].
 * Jitter matters here: after a collector outage every sidecar in the cluster retries at once otherwise.
 */
export class Backoff {
  #failures = 0;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: { baseMs?: number; maxMs?: number; random?: () => number } = {}) {
    this.#baseMs = options.baseMs ?? 200;
    this.#maxMs = options.maxMs ?? 10_000;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before the next attempt, counting one more failure. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#failures, 30));
    this.#failures += 1;
    return Math.max(this.#baseMs / 4, this.#random() * ceiling);
  }

  reset(): void {
    this.#failures = 0;
  }

  get failures(): number {
    return this.#failures;
  }
}
