import { describe, expect, it } from 'vitest';
import { WrittenStatuses } from './written-status.ts';

describe('WrittenStatuses', () => {
  it('prefers what was written over a cache that has not seen the write yet', () => {
    const written = new WrittenStatuses<{ v: number }>();
    expect(written.baseline('ns/a', 'u1', { v: 1 })).toEqual({ v: 1 });
    written.remember('ns/a', 'u1', { v: 2 });
    expect(written.baseline('ns/a', 'u1', { v: 1 })).toEqual({ v: 2 });
    expect(written.baseline('ns/b', 'u1', { v: 1 })).toEqual({ v: 1 });
  });

  it('does not carry a deleted server’s status to a new one of the same name', () => {
    const written = new WrittenStatuses<{ v: number }>();
    written.remember('ns/a', 'u1', { v: 2 });
    expect(written.baseline('ns/a', 'u2', undefined)).toBeUndefined();
    written.forget('ns/a');
    expect(written.baseline('ns/a', 'u1', { v: 1 })).toEqual({ v: 1 });
  });
});
