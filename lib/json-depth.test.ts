import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth, jsonDepth } from './json-depth.ts';

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

describe('exceedsJsonDepth', () => {
  it('agrees with jsonDepth on whether text nests deeper than the limit', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 8 }).map((value) => JSON.stringify(value)),
          fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ':', ',') }),
        ),
        fc.integer({ min: 0, max: 8 }),
        (text, limit) => {
          expect(exceedsJsonDepth(text, limit)).toBe(jsonDepth(text, limit) > limit);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('walks only text with more brackets than the limit, brackets inside strings included', () => {
    expect(exceedsJsonDepth('{"a":"[[[[[["}', 2)).toBe(false);
    expect(exceedsJsonDepth('{"a":{"b":{}}}', 2)).toBe(true);
    expect(exceedsJsonDepth('['.repeat(200_000) + ']'.repeat(200_000), 64)).toBe(true);
  });
});
