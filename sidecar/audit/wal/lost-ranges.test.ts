import { describe, expect, it } from 'vitest';
import {
  formatLostRanges,
  MAX_LOST_RANGES,
  parseLostRanges,
  withLostRange,
  withoutLostRanges,
} from './lost-ranges.ts';

describe('lost ranges', () => {
  it('keeps ranges sorted and does not list a range twice (recovery finds the same damage on every start)', () => {
    let ranges = withLostRange([], { fromSeq: 10, toSeq: 12, reason: 'b' });
    ranges = withLostRange(ranges, { fromSeq: 3, toSeq: 3, reason: 'a' });
    ranges = withLostRange(ranges, { fromSeq: 10, toSeq: 12, reason: 'b again' });
    ranges = withLostRange(ranges, { fromSeq: 11, toSeq: 11, reason: 'inside b' });
    expect(ranges).toEqual([
      { fromSeq: 3, toSeq: 3, reason: 'a' },
      { fromSeq: 10, toSeq: 12, reason: 'b' },
    ]);
  });

  it('stays within the heartbeat limit by merging the newest ranges, never by dropping one', () => {
    let ranges = withLostRange([], { fromSeq: 1, toSeq: 1, reason: 'x'.repeat(5000) });
    expect(ranges[0]!.reason).toHaveLength(1024);
    for (let i = 1; i <= MAX_LOST_RANGES + 5; i++)
      ranges = withLostRange(ranges, { fromSeq: i * 10, toSeq: i * 10, reason: 'r' });
    expect(ranges).toHaveLength(MAX_LOST_RANGES);
    for (let i = 1; i <= MAX_LOST_RANGES + 5; i++)
      expect(ranges.some((r) => r.fromSeq <= i * 10 && i * 10 <= r.toSeq)).toBe(true);
  });

  it('removes exactly the reported ranges', () => {
    const ranges = [
      { fromSeq: 1, toSeq: 2, reason: 'a' },
      { fromSeq: 5, toSeq: 5, reason: 'b' },
    ];
    expect(
      withoutLostRanges(ranges, [
        { fromSeq: 1, toSeq: 2 },
        { fromSeq: 5, toSeq: 6 },
      ]),
    ).toEqual([ranges[1]]);
  });

  it('parses what it formats and refuses anything else', () => {
    const ranges = [{ fromSeq: 4, toSeq: 9, reason: 'damaged' }];
    expect(parseLostRanges(formatLostRanges(ranges))).toEqual(ranges);
    for (const bad of [
      '',
      '{',
      '{}',
      '[{"fromSeq":0,"toSeq":1,"reason":""}]',
      '[{"fromSeq":1.5,"toSeq":2,"reason":""}]',
      'null',
    ])
      expect(parseLostRanges(bad)).toBeUndefined();
    expect(parseLostRanges('[{"fromSeq":9,"toSeq":4,"reason":"backwards"}]')).toEqual([]);
  });
});
