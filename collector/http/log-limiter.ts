/**
 * At most one log line per key per interval, then a count of what was held back. A refusal is logged
 * because someone should look; the ten-thousandth identical one in a minute says nothing more and costs
 * disk and CPU: a client hammering with a bad token made as many warnings as requests (issue 16).
 */
export class LogLimiter {
  readonly #intervalMs: number;
  readonly #clock: () => number;
  readonly #keys = new Map<string, { until: number; suppressed: number }>();
  readonly #maxKeys: number;

  constructor(options: { intervalMs: number; clock: () => number; maxKeys?: number }) {
    this.#intervalMs = options.intervalMs;
    this.#clock = options.clock;
    this.#maxKeys = options.maxKeys ?? 1_000;
  }

  /**
   * Whether to log now for `key`; when yes, `suppressed` is how many were held back since the last line
   * of this key (to say so in it).
   */
  admit(key: string): { log: false } | { log: true; suppressed: number } {
    const now = this.#clock();
    const entry = this.#keys.get(key);
    if (entry !== undefined && now < entry.until) {
      entry.suppressed++;
      return { log: false };
    }
    const suppressed = entry?.suppressed ?? 0;
    this.#keys.delete(key);
    // Bounded: keys include client-chosen codes only through our own fixed code table, but stay safe.
    if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(key, { until: now + this.#intervalMs, suppressed: 0 });
    return { log: true, suppressed };
  }
}
