import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { argumentsDigest, redact } from './event.ts';

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describe('argumentsDigest', () => {
  it('is the SHA-256 of the canonical JSON: sorted keys at every level, no whitespace', () => {
    // Pinned: digests are compared across sidecar versions and with the collector's, so the canonical
    // form is part of the audit contract.
    expect(
      argumentsDigest({ invoice_id: 'INV-1', customer_id: 'acme', meta: { z: 1, a: [2, { y: 1, b: 0 }] } }),
    ).toBe(sha256('{"customer_id":"acme","invoice_id":"INV-1","meta":{"a":[2,{"b":0,"y":1}],"z":1}}'));
  });

  it('does not depend on key order', () => {
    expect(argumentsDigest({ a: 1, b: { c: 2, d: 3 } })).toBe(argumentsDigest({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('tells different arguments apart, including array order and types', () => {
    const digests = [
      { customer_id: 'acme' },
      { customer_id: 'globex' },
      { customer_id: ['a', 'b'] },
      { customer_id: ['b', 'a'] },
      { amount: 1 },
      { amount: '1' },
      { amount: null },
      {},
    ].map(argumentsDigest);
    expect(new Set(digests).size).toBe(digests.length);
  });

  it('treats absent arguments as an empty object', () => {
    expect(argumentsDigest(undefined)).toBe(sha256('{}'));
    expect(argumentsDigest(null)).toBe(sha256('{}'));
    expect(argumentsDigest({})).toBe(sha256('{}'));
  });
});

describe('redact', () => {
  const args = {
    customer_id: 'acme',
    card: { number: '4111111111111111', expiry: '12/30' },
    notes: 'call back',
    items: [{ secret: 's1' }],
  };

  it('replaces the values at top-level and nested paths, and nothing else', () => {
    expect(redact(args, ['notes', 'card.number'])).toEqual({
      customer_id: 'acme',
      card: { number: '[redacted]', expiry: '12/30' },
      notes: '[redacted]',
      items: [{ secret: 's1' }],
    });
  });

  it('replaces a whole subtree named by its path', () => {
    expect(redact(args, ['card'])['card']).toBe('[redacted]');
  });

  it('does not change the arguments it was given', () => {
    const before = structuredClone(args);
    redact(args, ['card.number', 'notes']);
    expect(args).toEqual(before);
  });

  it('ignores paths that do not exist, and never creates them', () => {
    const result = redact(args, ['missing', 'card.cvv', 'customer_id.inner', 'notes.length', 'a.b.c']);
    expect(result).toEqual(args);
    expect(Object.keys(result.card as object)).toEqual(['number', 'expiry']);
  });

  it('does not follow inherited properties or touch prototypes', () => {
    const result = redact(args, ['constructor', '__proto__.polluted', 'toString', 'card.constructor.name']);
    expect(result).toEqual(args);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });
});
