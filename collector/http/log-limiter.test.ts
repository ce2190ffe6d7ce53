import { describe, expect, it } from 'vitest';
import { LogLimiter } from './log-limiter.ts';

describe('LogLimiter', () => {
  it('logs a key once per interval and then says how many it held back', () => {
    let now = 0;
    const limiter = new LogLimiter({ intervalMs: 10_000, clock: () => now });
    expect(limiter.admit('a')).toEqual({ log: true, suppressed: 0 });
    expect(limiter.admit('a')).toEqual({ log: false });
    expect(limiter.admit('a')).toEqual({ log: false });
    expect(limiter.admit('b')).toEqual({ log: true, suppressed: 0 });
    now = 10_000;
    expect(limiter.admit('a')).toEqual({ log: true, suppressed: 2 });
  });
});
