/**
 * A token bucket: `burst` tokens at most, refilled at `ratePerSecond`; a call takes one. Pure: time
 * comes in as an argument (milliseconds on any monotonic clock), so the same bucket is exact in tests
 * and costs a few arithmetic operations per call, with no timers and no allocation.
 */
export class TokenBucket {
  #rate: number;
  #perMs: number;
  #burst: number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    TokenBucket.#check(ratePerSecond, burst);
    this.#rate = ratePerSecond;
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  static #check(ratePerSecond: number, burst: number): void {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new RangeError(`token bucket rate must be a positive number, got ${ratePerSecond}`);
    if (!(burst >= 1) || !Number.isFinite(burst))
      throw new RangeError(`token bucket burst must be at least 1, got ${burst}`);
  }

  get ratePerSecond(): number {
    return this.#rate;
  }

  get burst(): number {
    return this.#burst;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  #refill(now: number): void {
    // A clock that steps back (it should not: callers pass a monotonic one) refills nothing.
    if (now > this.#at) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
      this.#at = now;
    }
  }

  /**
   * Takes `count` tokens when there are that many and returns 0; otherwise takes nothing and returns
   * the milliseconds until there will be (Infinity when `count` exceeds the burst: never).
   */
  take(now: number, count = 1): number {
    this.#refill(now);
    // The epsilon absorbs float rounding, so waiting exactly the time we named is always enough.
    if (this.#tokens >= count - 1e-9) {
      this.#tokens = Math.max(0, this.#tokens - count);
      return 0;
    }
    if (count > this.#burst) return Infinity;
    return (count - this.#tokens) / this.#perMs;
  }

  /** Gives back tokens taken for a call that was then refused by a later limit. */
  refund(count = 1): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + count);
  }

  /** Whether these are the settings already in force. */
  hasSettings(ratePerSecond: number, burst: number): boolean {
    return this.#rate === ratePerSecond && this.#burst === burst;
  }

  /**
   * New settings (a policy update changed the limit): the tokens earned so far under the old rate are
   * kept, clamped to the new burst, so tightening a limit bites at once and loosening it does not hand
   * out a fresh burst.
   */
  reconfigure(ratePerSecond: number, burst: number, now: number): void {
    TokenBucket.#check(ratePerSecond, burst);
    this.#refill(now);
    this.#rate = ratePerSecond;
    this.#perMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = Math.min(this.#tokens, burst);
  }

  /** When the bucket will be full again if nobody takes from it: forgetting it after that changes nothing. */
  fullAt(): number {
    return this.#at + (this.#burst - this.#tokens) / this.#perMs;
  }
}

/** Retry-After in whole seconds for a wait in milliseconds: rounded up, at least 1. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
