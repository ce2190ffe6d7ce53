import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryAfterSeconds, TokenBucket } from './token-bucket.ts';

describe('TokenBucket', () => {
  it('allows the burst at once, then the rate', () => {
    const bucket = new TokenBucket(5, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBeCloseTo(200); // one token per 200 ms
    expect(bucket.take(199)).toBeGreaterThan(0);
    expect(bucket.take(200)).toBe(0);
    expect(bucket.take(200)).toBeCloseTo(200);
  });

  it('refills no higher than the burst, however long it idles', () => {
    const bucket = new TokenBucket(100, 3, 0);
    expect(bucket.available(1e9)).toBe(3);
    expect(bucket.fullAt()).toBeLessThanOrEqual(1e9);
  });

  it('does not refill when the clock steps back', () => {
    const bucket = new TokenBucket(1, 1, 1000);
    expect(bucket.take(1000)).toBe(0);
    expect(bucket.take(0)).toBeGreaterThan(0);
    expect(bucket.available(500)).toBe(0);
  });

  it('says never (Infinity) for more than the burst, and takes nothing', () => {
    const bucket = new TokenBucket(10, 4, 0);
    expect(bucket.take(0, 5)).toBe(Infinity);
    expect(bucket.available(0)).toBe(4);
  });

  it('gives refunds back up to the burst only', () => {
    const bucket = new TokenBucket(1, 2, 0);
    bucket.take(0);
    bucket.refund(5);
    expect(bucket.available(0)).toBe(2);
  });

  it('adapts to new settings: tokens kept, clamped to the new burst, new rate from now', () => {
    const bucket = new TokenBucket(10, 100, 0);
    expect(bucket.hasSettings(10, 100)).toBe(true);
    bucket.reconfigure(1, 2, 0);
    expect(bucket.hasSettings(10, 100)).toBe(false);
    expect(bucket.available(0)).toBe(2);
    bucket.take(0, 2);
    expect(bucket.take(0)).toBeCloseTo(1000);
    // Loosening does not hand out a fresh burst.
    bucket.reconfigure(1, 50, 0);
    expect(bucket.available(0)).toBe(0);
  });

  it('refuses nonsense settings', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 1, 0)).toThrow(RangeError);
  });

  it('never admits more than burst + rate x elapsed, and the wait it names is enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.boolean()), { maxLength: 200 }),
        (rate, extra, steps) => {
          const burst = rate + extra;
          const bucket = new TokenBucket(rate, burst, 0);
          let now = 0;
          let admitted = 0;
          for (const [gap, waitAsTold] of steps) {
            now += gap;
            let wait = bucket.take(now);
            if (wait > 0 && waitAsTold) {
              now += wait;
              wait = bucket.take(now);
              expect(wait).toBe(0);
            }
            if (wait === 0) admitted++;
            expect(admitted).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-6);
          }
        },
      ),
    );
  });
});

describe('retryAfterSeconds', () => {
  it('rounds the refill time up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1000)).toBe(1);
    expect(retryAfterSeconds(1001)).toBe(2);
    expect(retryAfterSeconds(0)).toBe(1);
  });
});
