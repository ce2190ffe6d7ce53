import { celEnv, CelScalar, mapType, parse, plan } from '@bufbuild/cel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codePoints, compileCondition } from './cel.ts';

/** The library's own environment, with its standard size(): the oracle for ours. */
const standard = plan(
  celEnv({ variables: { args: mapType(CelScalar.STRING, CelScalar.DYN) } }),
  parse('[size(args.text), args.text.size()]'),
);

describe('size() of a string in conditions', () => {
  it('counts code points as the standard overloads do, for any UTF-16 string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.string()),
        (text) => {
          const [byFunction, byMethod] = [...(standard({ args: { text } } as never) as Iterable<bigint>)];
          expect(codePoints(text)).toBe(Number(byFunction));
          expect(codePoints(text)).toBe(Number(byMethod));
          const bound = Number(byFunction);
          const condition = compileCondition(`size(args.text) == ${bound} && args.text.size() == ${bound}`);
          expect(condition({ args: { text } } as never)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts a pair of surrogates once and a lone surrogate as one', () => {
    expect(codePoints('h\u00e9llo \u{1F600}')).toBe(7);
    expect(codePoints('\uD83D')).toBe(1);
    expect(codePoints('\uDE00\uD83D')).toBe(2);
    expect(codePoints('\uD83D\uDE00\uD83D')).toBe(2);
    expect(codePoints('')).toBe(0);
  });
});
