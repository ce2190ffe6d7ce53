import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['720h', 720 * 3_600_000],
    ['30d', 30 * 86_400_000],
    ['1h30m', 90 * 60_000],
    ['500ms', 500],
    ['1.5s', 1_500],
    ['10s', 10_000],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '10', 'h', '-1h', '1 h', '1w', '1h-', 'ten s'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});
