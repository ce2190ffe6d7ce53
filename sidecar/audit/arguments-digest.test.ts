import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../policy/hash.ts';
import { argumentsDigest } from './arguments-digest.ts';

/** The digest as defined: canonicalJson, then SHA-256. */
const reference = (args: unknown) =>
  `sha256:${createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex')}`;

describe('argumentsDigest', () => {
  it('equals the canonicalJson digest for any JSON the sidecar can parse, keys in any order', () => {
    const keys = fc.oneof(
      fc.string(),
      fc.constantFrom('0', '1', '10', '9', '-1', '01', '__proto__', 'toJSON'),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(null, true, false, 0, -0, 1.5, 1e21, -7),
        fc.string(),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    fc.assert(
      fc.property(fc.oneof(json, fc.jsonValue()), (value) => {
        const parsed: unknown = JSON.parse(JSON.stringify(value)); // own __proto__ keys, as JSON.parse makes them
        expect(argumentsDigest(parsed)).toBe(reference(parsed));
      }),
      { numRuns: 1000 },
    );
  });

  it('equals the canonicalJson digest where JSON.stringify has finer rules', () => {
    class Money {
      readonly cents: number;
      constructor(cents: number) {
        this.cents = cents;
      }
    }
    const odd: unknown[] = [
      { '10': 'a', '9': 'b', b: 1, a: 2 },
      { a: undefined, b: () => 1, c: Symbol('s') },
      [undefined, () => 1, Symbol('s'), , 1], // eslint-disable-line no-sparse-arrays
      { when: new Date(0), nested: { toJSON: () => ({ z: 1, a: 2 }) } },
      { money: new Money(5) },
      Object.assign(Object.create(null) as object, { z: 1, y: { x: 2 } }),
      JSON.parse('{"__proto__": {"b": 1, "a": 2}, "z": 0}'),
      { n: Number.NaN, i: -Infinity, z: -0 },
      { s: '\u2028\ud800"\\\n' },
      [],
      {},
      null,
      undefined,
      'text',
    ];
    for (const value of odd) expect(argumentsDigest(value)).toBe(reference(value));
  });
});
