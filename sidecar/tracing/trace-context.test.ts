import { describe, expect, it } from 'vitest';
import { formatTraceParent, parseTraceParent, parseTraceState } from './trace-context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceParent', () => {
  it('reads a version 00 traceparent', () => {
    expect(parseTraceParent(VALID)).toEqual({ ok: true, value: { traceId: TRACE, spanId: SPAN, flags: 1 } });
    expect(parseTraceParent(`00-${TRACE}-${SPAN}-00`)).toMatchObject({ ok: true, value: { flags: 0 } });
  });

  it('round-trips through formatTraceParent', () => {
    const parsed = parseTraceParent(VALID);
    expect(parsed.ok && formatTraceParent(parsed.value)).toBe(VALID);
  });

  it.each([
    ['empty', ''],
    ['too short', VALID.slice(0, -1)],
    ['too long', `${VALID}0`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['long trace id', `00-${TRACE}0-${SPAN}-01`],
    ['short parent id', `00-${TRACE}-${SPAN.slice(1)}-01`],
    ['one-digit flags', `00-${TRACE}-${SPAN}-1`],
    ['uppercase trace id', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['uppercase parent id', `00-${TRACE}-${SPAN.toUpperCase()}-01`],
    ['uppercase flags', `00-${TRACE}-${SPAN}-0A`],
    ['uppercase version', `0A-${TRACE}-${SPAN}-01`],
    ['non-hex', `00-${TRACE.replace('a', 'g')}-${SPAN}-01`],
    ['extra field on version 00', `${VALID}-extra`],
    ['extra dash on version 00', `${VALID}-`],
    ['leading space', ` ${VALID}`],
    ['trailing space', `${VALID} `],
    ['trailing newline', `${VALID}\n`],
    ['other separators', VALID.replaceAll('-', '_')],
    ['two values joined (a repeated header)', `${VALID}, ${VALID}`],
    ['later version without the dash after the fields', `01-${TRACE}-${SPAN}-01x`],
    ['a number', 42],
    ['an object', { traceparent: VALID }],
    ['null', null],
    ['huge', `01-${TRACE}-${SPAN}-01-${'a'.repeat(1000)}`],
  ])('refuses %s', (_name, value) => {
    expect(parseTraceParent(value)).toEqual({ ok: false, problem: 'malformed' });
  });

  it('refuses all-zero ids and version ff', () => {
    expect(parseTraceParent(`00-${'0'.repeat(32)}-${SPAN}-01`)).toEqual({
      ok: false,
      problem: 'zero_trace_id',
    });
    expect(parseTraceParent(`00-${TRACE}-${'0'.repeat(16)}-01`)).toEqual({
      ok: false,
      problem: 'zero_parent_id',
    });
    expect(parseTraceParent(`ff-${TRACE}-${SPAN}-01`)).toEqual({ ok: false, problem: 'invalid_version' });
  });

  it('tells a missing value from a repeated one (headersDistinct gives arrays)', () => {
    expect(parseTraceParent(undefined)).toEqual({ ok: false, problem: 'missing' });
    expect(parseTraceParent([VALID, VALID])).toEqual({ ok: false, problem: 'repeated' });
  });

  it('reads the known fields of a later version and passes it on as 00', () => {
    const later = parseTraceParent(`cc-${TRACE}-${SPAN}-01-what-comes-later`);
    expect(later).toEqual({ ok: true, value: { traceId: TRACE, spanId: SPAN, flags: 1 } });
    expect(later.ok && formatTraceParent(later.value)).toBe(VALID);
    expect(parseTraceParent(`01-${TRACE}-${SPAN}-03`)).toMatchObject({ ok: true, value: { flags: 3 } });
  });
});

describe('parseTraceState', () => {
  it('normalises a valid list (whitespace, empty members)', () => {
    expect(parseTraceState('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE')).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parseTraceState('a=1,,b=2 ,')).toBe('a=1,b=2');
    expect(parseTraceState('tenant@vendor=x')).toBe('tenant@vendor=x');
  });

  it.each([
    ['not a string', ['a=1']],
    ['empty', ''],
    ['only commas', ' , ,'],
    ['no equals sign', 'rojo'],
    ['empty key', '=1'],
    ['uppercase key', 'Rojo=1'],
    ['a duplicate key', 'a=1,b=2,a=3'],
    ['a comma-less value with an equals sign', 'a=b=c'],
    ['a control character', 'a=1\u0007'],
    ['too many members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
    ['too long', `a=${'x'.repeat(600)}`],
  ])('drops %s', (_name, value) => {
    expect(parseTraceState(value)).toBeUndefined();
  });
});
