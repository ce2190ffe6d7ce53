import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IsoTimeFormatter } from './iso-time.ts';

const MAX = 8.64e15; // the largest time a Date holds

describe('IsoTimeFormatter', () => {
  it('formats exactly as Date.prototype.toISOString, in any order of calls', () => {
    const formatter = new IsoTimeFormatter();
    const near = Date.parse('2026-12-07T10:00:00.000Z');
    const times = fc.oneof(
      fc.integer({ min: near - 3000, max: near + 3000 }), // the same second, again and again
      fc.integer({ min: -MAX, max: MAX }), // extended and negative years
      fc.double({ min: -1e13, max: 1e13, noNaN: true }), // fractional: truncated toward zero
    );
    fc.assert(
      fc.property(fc.array(times, { maxLength: 50 }), (list) => {
        for (const ms of list) expect(formatter.format(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 300 },
    );
    for (const ms of [0, -1, -999, -1000, -1001, 999, 1000, MAX, -MAX, near + 5, near + 50, near + 500])
      expect(formatter.format(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws as toISOString does for a time a Date cannot hold', () => {
    const formatter = new IsoTimeFormatter();
    for (const ms of [Number.NaN, MAX + 1, Infinity]) {
      expect(() => new Date(ms).toISOString()).toThrow(RangeError);
      expect(() => formatter.format(ms)).toThrow(RangeError);
    }
  });
});
