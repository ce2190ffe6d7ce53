import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findStrictJsonError } from './strict-json-scanner.ts';
import {
  DEFAULT_MAX_DEPTH,
  parseStrictJson,
  type StrictJsonErrorCode,
  type StrictJsonLimits,
} from './strict-json.ts';

interface Case {
  readonly name: string;
  readonly text: string;
  /** 'ok', or the refusal code. */
  readonly expect: 'ok' | StrictJsonErrorCode;
  readonly position?: number;
  readonly value?: unknown;
  readonly limits?: StrictJsonLimits;
}

const nested = (open: string, close: string, depth: number, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);
const wideObject = (keys: number, extra = '') =>
  `{${Array.from({ length: keys }, (_, i) => `"k${i}":${i}`).join(',')}${extra}}`;

const cases: Case[] = [
  // Accepted
  { name: 'an ordinary request', text: '{"jsonrpc":"2.0","id":1,"method":"tools/call"}', expect: 'ok' },
  {
    name: 'JSON whitespace everywhere',
    text: ' \t\r\n{ "a" : [ 1 , 2 ] }\n',
    expect: 'ok',
    value: { a: [1, 2] },
  },
  { name: 'top-level scalars', text: '"x"', expect: 'ok', value: 'x' },
  { name: 'same name in sibling objects', text: '[{"a":1},{"a":2}]', expect: 'ok' },
  { name: 'same name at different depths', text: '{"a":{"a":{"a":1}}}', expect: 'ok' },
  { name: 'forbidden words as values', text: '{"k":"__proto__","c":["constructor"]}', expect: 'ok' },
  {
    name: 'colons and escaped quotes inside strings',
    text: '{"a:\\"b":"c:d\\\\"}',
    expect: 'ok',
    value: { 'a:"b': 'c:d\\' },
  },
  { name: 'an escaped surrogate pair', text: '"\\ud83d\\ude00"', expect: 'ok', value: '😀' },
  { name: 'a raw surrogate pair', text: '{"😀":"😀"}', expect: 'ok', value: { '😀': '😀' } },
  { name: 'underflow rounds to zero', text: '1e-400', expect: 'ok', value: 0 },
  {
    name: 'a big integer rounds like JSON.parse',
    text: '12345678901234567890',
    expect: 'ok',
    value: 12345678901234567000,
  },
  { name: 'the largest double', text: '1.7976931348623157e308', expect: 'ok', value: Number.MAX_VALUE },
  { name: 'exactly the default depth', text: nested('[', ']', DEFAULT_MAX_DEPTH), expect: 'ok' },
  { name: 'a wide object (Set path)', text: wideObject(500), expect: 'ok' },

  // Duplicates: refused, not guessed at
  { name: 'duplicate names', text: '{"a":1,"a":2}', expect: 'duplicate_key', position: 7 },
  { name: 'duplicate after unescaping', text: '{"a":1,"\\u0061":2}', expect: 'duplicate_key', position: 7 },
  { name: 'duplicate, both escaped', text: '{"\\u0062":1,"\\u0062":2}', expect: 'duplicate_key' },
  { name: 'duplicate via \\/', text: '{"a/b":1,"a\\/b":2}', expect: 'duplicate_key' },
  { name: 'duplicate with escaped quotes', text: '{"a\\"b":1,"a\\"b":2}', expect: 'duplicate_key' },
  {
    name: 'duplicate surrogate pair, raw and escaped',
    text: '{"😀":1,"\\ud83d\\ude00":2}',
    expect: 'duplicate_key',
  },
  {
    name: 'duplicate deep inside an array',
    text: '{"x":[1,{"y":{"a":1,"b":2,"a":3}}]}',
    expect: 'duplicate_key',
  },
  { name: 'duplicate in a wide object', text: wideObject(40, ',"k3":0'), expect: 'duplicate_key' },
  { name: 'duplicate right at the Set switch', text: wideObject(9, ',"k8":0'), expect: 'duplicate_key' },
  {
    name: 'duplicate after a nested object closed',
    text: '{"a":{"b":1},"c":{"b":2},"a":3}',
    expect: 'duplicate_key',
  },

  // Prototype pollution names, at any depth, however spelled
  { name: '__proto__', text: '{"__proto__":{"admin":true}}', expect: 'forbidden_key', position: 1 },
  { name: 'escaped __proto__', text: '{"__pro\\u0074o__":{}}', expect: 'forbidden_key', position: 1 },
  {
    name: 'fully escaped __proto__',
    text: `{"${[...'__proto__'].map((c) => `\\u00${c.charCodeAt(0).toString(16)}`).join('')}":1}`,
    expect: 'forbidden_key',
  },
  {
    name: 'constructor, nested',
    text: '{"a":[{"b":{"constructor":{"prototype":{}}}}]}',
    expect: 'forbidden_key',
  },
  { name: 'prototype', text: '[{"prototype":1}]', expect: 'forbidden_key' },

  // Depth and size
  {
    name: 'one past the default depth',
    text: nested('[', ']', DEFAULT_MAX_DEPTH + 1),
    expect: 'too_deep',
    position: DEFAULT_MAX_DEPTH,
  },
  { name: '10,000 nested arrays', text: nested('[', ']', 10_000), expect: 'too_deep' },
  { name: '10,000 nested objects', text: nested('{"a":', '}', 10_000), expect: 'too_deep' },
  { name: '10,000 unclosed arrays', text: '['.repeat(10_000), expect: 'too_deep' },
  { name: 'a custom depth', text: '{"a":{"b":1}}', expect: 'too_deep', limits: { maxDepth: 1 } },
  {
    name: 'more members than allowed',
    text: '{"a":1,"b":{"c":2}}',
    expect: 'too_many_keys',
    limits: { maxKeys: 2 },
  },
  { name: 'exactly the allowed members', text: '{"a":1,"b":{"c":2}}', expect: 'ok', limits: { maxKeys: 3 } },

  // Numbers
  { name: 'overflow to Infinity', text: '{"n":1e400}', expect: 'syntax', position: 5 },
  { name: 'negative overflow', text: '-1e309', expect: 'syntax' },
  { name: 'a 400-digit integer', text: '1' + '0'.repeat(400), expect: 'syntax' },
  { name: 'NaN', text: 'NaN', expect: 'syntax' },
  { name: 'Infinity', text: '[-Infinity]', expect: 'syntax' },
  { name: 'a leading zero', text: '01', expect: 'syntax' },
  { name: 'a negative leading zero', text: '-01', expect: 'syntax' },
  { name: 'a leading plus', text: '+1', expect: 'syntax' },
  { name: 'a bare decimal point', text: '[1.]', expect: 'syntax' },
  { name: 'a leading decimal point', text: '.5', expect: 'syntax' },
  { name: 'an empty exponent', text: '1e+', expect: 'syntax' },
  { name: 'a lone minus', text: '-', expect: 'syntax' },
  { name: 'hex', text: '0x10', expect: 'syntax' },

  // Strings and Unicode
  { name: 'an escaped lone high surrogate', text: '"\\ud800"', expect: 'syntax', position: 1 },
  { name: 'an escaped lone low surrogate', text: '"\\udc00"', expect: 'syntax' },
  { name: 'a reversed surrogate pair', text: '"\\udc00\\ud800"', expect: 'syntax' },
  { name: 'a high surrogate before a non-surrogate', text: '"\\ud800\\u0041"', expect: 'syntax' },
  { name: 'a lone surrogate in a name', text: '{"a\\ud800":1}', expect: 'syntax' },
  { name: 'a raw lone high surrogate', text: '"a\ud800"', expect: 'syntax', position: 2 },
  { name: 'a raw lone low surrogate', text: '["\udc00"]', expect: 'syntax' },
  { name: 'an escaped high half with a raw low half', text: '"\\ud83d\ude00"', expect: 'syntax' },
  { name: 'a raw control character', text: '"a\tb"', expect: 'syntax', position: 2 },
  { name: 'a raw NUL', text: '"\u0000"', expect: 'syntax' },
  { name: 'an invalid escape', text: '"\\x41"', expect: 'syntax' },
  { name: 'an escaped single quote', text: '"\\\'"', expect: 'syntax' },
  { name: 'a short \\u escape', text: '"\\u12G4"', expect: 'syntax' },
  { name: 'an unterminated string', text: '{"a":"b', expect: 'syntax', position: 5 },
  { name: 'a backslash at the very end', text: '"\\', expect: 'syntax' },

  // Not JSON
  { name: 'empty text', text: '', expect: 'syntax', position: 0 },
  { name: 'only whitespace', text: ' \n', expect: 'syntax' },
  { name: 'a leading byte order mark', text: '\ufeff{}', expect: 'syntax', position: 0 },
  { name: 'non-JSON whitespace', text: '{\u00a0}', expect: 'syntax' },
  { name: 'a vertical tab', text: '[1,\u000b2]', expect: 'syntax' },
  { name: 'a trailing comma in an array', text: '[1,2,]', expect: 'syntax', position: 5 },
  { name: 'a trailing comma in an object', text: '{"a":1,}', expect: 'syntax', position: 7 },
  { name: 'a leading comma', text: '[,1]', expect: 'syntax' },
  { name: 'a line comment', text: '{"a":1 // no\n}', expect: 'syntax' },
  { name: 'a block comment', text: '/* c */ {}', expect: 'syntax' },
  { name: 'single quotes', text: "{'a':1}", expect: 'syntax' },
  { name: 'an unquoted name', text: '{a:1}', expect: 'syntax' },
  { name: 'a number as a name', text: '{1:1}', expect: 'syntax' },
  { name: 'a missing colon', text: '{"a" 1}', expect: 'syntax' },
  { name: 'a missing value', text: '{"a":}', expect: 'syntax' },
  { name: 'trailing garbage', text: '{"a":1} x', expect: 'syntax', position: 8 },
  { name: 'two documents', text: '{}{}', expect: 'syntax', position: 2 },
  { name: 'a truncated literal', text: '[tru]', expect: 'syntax' },
  { name: 'a capitalised literal', text: 'True', expect: 'syntax' },
  { name: 'an unclosed object', text: '{"a":1', expect: 'syntax' },
  { name: 'a mismatched bracket', text: '[1}', expect: 'syntax' },
];

describe('parseStrictJson', () => {
  it.each(cases)('$name', ({ text, expect: expected, position, value, limits }) => {
    const result = parseStrictJson(text, limits);
    if (expected === 'ok') {
      if (!result.ok) expect.fail(result.error.message);
      expect(isDeepStrictEqual(result.value, value ?? JSON.parse(text))).toBe(true);
      return;
    }
    if (result.ok) return expect.fail(`accepted ${text.slice(0, 80)}`);
    expect(result.error.code).toBe(expected);
    if (position !== undefined) expect(result.error.position).toBe(position);
    expect(result.error.message).toContain(`position ${result.error.position}`);
  });

  it('accepts 10,000 levels when the limit allows, without overflowing the stack', () => {
    const result = parseStrictJson(nested('{"a":[', ']}', 10_000), { maxDepth: 20_000 });
    let depth = 0;
    for (
      let value = result.ok ? result.value : undefined;
      typeof value === 'object' && value !== null;
      depth++
    ) {
      value = Array.isArray(value) ? value[0] : (value as { a: unknown }).a;
    }
    expect(depth).toBe(20_000);
  });

  it('names the refused member in the message', () => {
    const result = parseStrictJson('{"x":{"__pro\\u0074o__":1}}');
    expect(result).toMatchObject({ ok: false, error: { code: 'forbidden_key', position: 6 } });
    expect(!result.ok && result.error.message).toContain('"__proto__"');
  });

  it('quotes a hostile duplicate name safely in the message', () => {
    const key = `${'x'.repeat(100)}\n[admin] granted`;
    const text = `{${JSON.stringify(key)}:1,${JSON.stringify(key)}:2}`;
    const result = parseStrictJson(text);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.message).not.toContain('\n');
    expect(!result.ok && result.error.message.length).toBeLessThan(150);
  });

  it('produces ordinary objects whose own "__proto__" never reaches a prototype', () => {
    const result = parseStrictJson('{"a":{"b":[{"c":1}]}}');
    expect(result.ok && Object.getPrototypeOf(result.value)).toBe(Object.prototype);
  });
});

/** Strings, names and numbers that stress escaping and the scanner's corners. */
const nameArb = fc.constantFrom('a', 'b', 'ab', 'a"b', 'a\\', 'é', '😀', ':', '');
const leafArb = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1.5e-7, 1e300),
  fc.string({ maxLength: 6 }),
  nameArb,
);

/** A JSON tree kept as entries, so it can hold duplicate names that a JS object could not. */
type Entry = readonly [name: string, escaped: boolean, value: Tree];
type Tree = { readonly entries: readonly Entry[] } | { readonly items: readonly Tree[] } | unknown;
const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.record({ items: fc.array(tie('tree'), { maxLength: 4 }) }),
    fc.record({ entries: fc.array(fc.tuple(nameArb, fc.boolean(), tie('tree')), { maxLength: 4 }) }),
  ),
})).tree;

function isEntries(tree: Tree): tree is { entries: readonly Entry[] } {
  return typeof tree === 'object' && tree !== null && 'entries' in tree;
}
function isItems(tree: Tree): tree is { items: readonly Tree[] } {
  return typeof tree === 'object' && tree !== null && 'items' in tree;
}

/** Serialises a tree, writing each name plainly or (when its entry says so) entirely as \u escapes. */
function render(tree: Tree, escapeAll = false): string {
  if (isItems(tree)) return `[${tree.items.map((item) => render(item, escapeAll)).join(',')}]`;
  if (isEntries(tree)) {
    const members = tree.entries.map(([name, escaped, value]) => {
      const written = escaped || escapeAll ? `"${escapeEveryUnit(name)}"` : JSON.stringify(name);
      return `${written}:${render(value, escapeAll)}`;
    });
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(tree);
}

function escapeEveryUnit(text: string): string {
  let escaped = '';
  for (let i = 0; i < text.length; i++) escaped += `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return escaped;
}

function hasDuplicateName(tree: Tree): boolean {
  if (isItems(tree)) return tree.items.some(hasDuplicateName);
  if (isEntries(tree)) {
    const names = tree.entries.map(([name]) => name);
    return (
      new Set(names).size !== names.length || tree.entries.some(([, , value]) => hasDuplicateName(value))
    );
  }
  return false;
}

function hasRefusedContent(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (Array.isArray(value)) return value.some(hasRefusedContent);
  if (typeof value === 'object' && value !== null) {
    return Object.keys(value).some(
      (key) =>
        ['__proto__', 'constructor', 'prototype'].includes(key) ||
        !key.isWellFormed() ||
        hasRefusedContent((value as Record<string, unknown>)[key]),
    );
  }
  return false;
}

function agreesWithScanner(text: string): boolean {
  const verdict = parseStrictJson(text).ok;
  return verdict === (findStrictJsonError(text, DEFAULT_MAX_DEPTH, Infinity) === undefined);
}

describe('parseStrictJson properties', () => {
  it('agrees with JSON.parse on stringified values, except for refused names and lone surrogates', () => {
    const valueArb = fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' }));
    fc.assert(
      fc.property(valueArb, fc.constantFrom(undefined, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const result = parseStrictJson(text, { maxDepth: 1000 });
        if (hasRefusedContent(value)) return !result.ok;
        return result.ok && isDeepStrictEqual(result.value, JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses exactly the texts with a duplicate name, however the names are escaped', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const text = render(tree);
        const result = parseStrictJson(text);
        if (hasDuplicateName(tree)) return !result.ok && result.error.code === 'duplicate_key';
        return result.ok && isDeepStrictEqual(result.value, JSON.parse(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws and is never more lenient than JSON.parse, on any string', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom(
        ...'{}[]":,0123456789.eE+-tfnrul\\ a_\n',
        '\\u0061',
        '\\ud800',
        '"a"',
        '__proto__',
      ),
      maxLength: 40,
    });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), jsonish), (text) => {
        const result = parseStrictJson(text);
        let reference: unknown;
        try {
          reference = JSON.parse(text);
        } catch {
          return !result.ok;
        }
        return !result.ok || isDeepStrictEqual(result.value, reference);
      }),
      { numRuns: 3000 },
    );
  });

  it('takes its fast path only where the exact scanner agrees', () => {
    const mutated = fc
      .tuple(
        fc.jsonValue({ stringUnit: 'binary' }),
        fc.nat(),
        fc.constantFrom('"a":1,', '\\', ':', '"', ',', '\\u0061'),
      )
      .map(([value, at, insert]) => {
        const text = JSON.stringify(value);
        const cut = at % (text.length + 1);
        return text.slice(0, cut) + insert + text.slice(cut);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          treeArb.map((tree) => render(tree)),
        ),
        agreesWithScanner,
      ),
      {
        numRuns: 2000,
      },
    );
  });
});
