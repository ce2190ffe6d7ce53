import { describe, expect, it } from 'vitest';
import { checkContentEncoding, checkJsonMediaType } from './media-type.ts';

describe('checkJsonMediaType', () => {
  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/json;',
  ])('accepts %j', (value) => expect(checkJsonMediaType(value)).toEqual({ ok: true }));

  it.each([
    [undefined, 'must be application/json'],
    ['text/plain', 'must be application/json'],
    ['application/jsonx', 'must be application/json'],
    ['application/json; charset=utf-7', 'only UTF-8'],
    ['application/json; charset=utf-16le', 'only UTF-8'],
    ['application/json; charset=utf8', 'only UTF-8'],
    ['application/json; charset=', 'only UTF-8'],
    ['application/json; charset=utf-8; charset=utf-7', 'only UTF-8'],
    ['application/json; boundary=x', 'parameter'],
  ])('refuses %j', (value, reason) => {
    const check = checkJsonMediaType(value);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toContain(reason);
  });

  it('bounds what it repeats of the value', () => {
    const check = checkJsonMediaType(`application/json; charset=${'x'.repeat(10_000)}`);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason.length).toBeLessThan(120);
  });
});

describe('checkContentEncoding', () => {
  it.each([undefined, 'identity', 'Identity', ''])('accepts %j', (value) =>
    expect(checkContentEncoding(value).ok).toBe(true),
  );
  it.each(['gzip', 'br', 'deflate', 'identity, gzip'])('refuses %j', (value) =>
    expect(checkContentEncoding(value).ok).toBe(false),
  );
});
