import { describe, expect, it } from 'vitest';
import { jsonDepth } from './json-depth.ts';

describe('jsonDepth', () => {
  it.each([
    ['1', 0],
    ['"[{"', 0],
    ['{}', 1],
    ['{"a":[1]}', 2],
    ['[[],[[]]]', 3],
    ['{"a":"\\"[[[","b":{}}', 2],
    ['["\\\\",[1]]', 2],
  ])('%s has depth %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
    expect(JSON.parse(text)).toBeDefined();
  });

  it('measures text far deeper than the stack allows a recursive walk, stopping past the limit', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(jsonDepth(deep)).toBe(200_000);
    expect(jsonDepth(deep, 64)).toBe(65);
  });
});
