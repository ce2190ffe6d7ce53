import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const options = { baseMs: 100, maxMs: 10_000 };

  it('grows exponentially under full jitter and is capped', () => {
    expect(backoffDelay(1, { ...options, random: () => 1 })).toBe(100);
    expect(backoffDelay(4, { ...options, random: () => 1 })).toBe(800);
    expect(backoffDelay(40, { ...options, random: () => 1 })).toBe(10_000);
    expect(backoffDelay(4, { ...options, random: () => 0.5 })).toBe(400);
    expect(backoffDelay(4, { ...options, random: () => 0 })).toBe(0);
  });

  it('waits at least the Retry-After the destination asked for, up to the cap', () => {
    expect(backoffDelay(1, { ...options, random: () => 0, retryAfterMs: 3_000 })).toBe(3_000);
    expect(backoffDelay(1, { ...options, random: () => 0, retryAfterMs: 60_000 })).toBe(10_000);
  });
});
