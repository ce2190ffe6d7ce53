import { describe, expect, it } from 'vitest';
import { epochMicros, storeTime } from './time.ts';

describe('storeTime', () => {
  it('writes every instant as UTC with six fraction digits, truncating beyond', () => {
    expect(storeTime('2026-01-02T03:04:05Z')).toBe('2026-01-02T03:04:05.000000Z');
    expect(storeTime('2026-01-02T03:04:05.1234567Z')).toBe('2026-01-02T03:04:05.123456Z');
    expect(storeTime('2026-01-02T01:04:05.5+22:00')).toBe('2026-01-01T03:04:05.500000Z');
    expect(storeTime('2026-01-01T23:30:00-01:00')).toBe('2026-01-02T00:30:00.000000Z');
    expect(storeTime('2024-02-29T00:00:00+00:00')).toBe('2024-02-29T00:00:00.000000Z');
  });

  it('refuses what is not an RFC 3339 instant, or leaves years 0000-9999', () => {
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T00:00:60Z',
      '2026-01-01 00:00:00Z',
      '2026-01-01T00:00:00',
      '2026-01-01T00:00:00+25:00',
      '9999-12-31T23:00:00-02:00',
      '',
    ]) {
      expect(() => storeTime(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_event' }));
    }
  });

  it('orders as text the way the instants order in time', () => {
    const times = [
      '2026-01-01T10:00:00.5+02:00',
      '2026-01-01T08:00:00.4Z',
      '2025-12-31T23:59:59.999999-09:00',
    ];
    const sorted = times.map(storeTime).sort();
    expect(sorted).toEqual(times.map(storeTime).sort((a, b) => Date.parse(a) - Date.parse(b)));
  });
});

describe('epochMicros', () => {
  it('counts microseconds since the epoch, as a bigint where a double would round', () => {
    expect(epochMicros('1970-01-01T00:00:01.000002Z')).toBe(1_000_002);
    expect(epochMicros('1969-12-31T23:59:59.000000Z')).toBe(-1_000_000);
    expect(epochMicros('9999-12-31T23:59:59.999999Z')).toBe(253_402_300_799_999_999n);
  });
});

describe('storeTime and epochMicros, event after event', () => {
  it('convert each instant alone, whatever came before (the last second is remembered)', () => {
    const times = [
      '2026-01-02T03:04:05.1Z',
      '2026-01-02T03:04:05.2Z',
      '2026-01-02T03:04:05.3+01:00',
      '2026-01-02T03:04:05.4Z',
      '2026-02-28T23:59:59.999Z',
      '2026-01-02T03:04:05.5-00:30',
    ];
    const fresh = (time: string) => {
      storeTime('1999-01-01T00:00:00Z'); // forget the previous second
      epochMicros('1999-01-01T00:00:00.000000Z');
      const stored = storeTime(time);
      return [stored, epochMicros(stored)];
    };
    const expected = times.map(fresh);
    expect(times.map((time) => [storeTime(time), epochMicros(storeTime(time))])).toEqual(expected);
    expect(expected[2]![0]).toBe('2026-01-02T02:04:05.300000Z');
  });

  it('still refuses an impossible second met right after a valid one', () => {
    expect(storeTime('2026-02-28T00:00:00Z')).toBe('2026-02-28T00:00:00.000000Z');
    expect(() => storeTime('2026-02-30T00:00:00Z')).toThrow(
      expect.objectContaining({ code: 'invalid_event' }),
    );
    expect(() => storeTime('2026-02-30T00:00:00Z')).toThrow(
      expect.objectContaining({ code: 'invalid_event' }),
    );
  });
});
