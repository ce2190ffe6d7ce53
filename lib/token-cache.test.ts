import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenCacheKey, TokenCache } from './token-cache.ts';

describe('tokenCacheKey', () => {
  it('is the SHA-256 of the token, and holds nothing of the token itself', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    const key = tokenCacheKey(token);
    expect(key).toBe(createHash('sha256').update(token).digest('base64url'));
    for (const part of token.split('.')) expect(key).not.toContain(part);
    expect(tokenCacheKey(`${token}x`)).not.toBe(key);
  });
});

describe('TokenCache', () => {
  it('serves an entry until validUntil, then forgets it', () => {
    const cache = new TokenCache<string>(10);
    cache.set('k', 'v', 1_000);
    expect(cache.get('k', 999)).toBe('v');
    expect(cache.get('k', 1_000)).toBeUndefined();
    expect(cache.has('k')).toBe(false);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new TokenCache<number>(3);
    cache.set('a', 1, Infinity);
    cache.set('b', 2, Infinity);
    cache.set('c', 3, Infinity);
    cache.get('a', 0); // a is now the most recently used
    cache.set('d', 4, Infinity);
    expect([...['a', 'b', 'c', 'd']].filter((k) => cache.has(k))).toEqual(['a', 'c', 'd']);
    expect(cache.size).toBe(3);
  });

  it('stores nothing with size 0', () => {
    const cache = new TokenCache<number>(0);
    cache.set('a', 1, Infinity);
    expect(cache.get('a', 0)).toBeUndefined();
  });

  it('keeps exactly the entries a plain least-recently-used list keeps, through any gets and sets', () => {
    // The model: an array, most recently used last; a hit moves the key to the end, an expired hit
    // removes it, a set beyond capacity drops the first.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
        validUntil: fc.integer({ min: 0, max: 40 }),
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const cache = new TokenCache<string>(capacity);
        let model: Array<{ key: string; value: string; validUntil: number }> = [];
        ops.forEach((o, now) => {
          const index = model.findIndex((e) => e.key === o.key);
          if (o.kind === 'get') {
            const entry = index >= 0 ? model[index]! : undefined;
            const expected = entry && now < entry.validUntil ? entry.value : undefined;
            if (entry) model.splice(index, 1);
            if (entry && expected !== undefined) model.push(entry);
            expect(cache.get(o.key, now)).toBe(expected);
          } else {
            const value = `${o.key}@${now}`;
            cache.set(o.key, value, o.validUntil);
            if (index >= 0) model.splice(index, 1);
            model.push({ key: o.key, value, validUntil: o.validUntil });
            if (model.length > capacity) model = model.slice(1);
          }
          expect(cache.size).toBe(model.length);
          for (const key of ['a', 'b', 'c', 'd', 'e'])
            expect(cache.has(key)).toBe(model.some((e) => e.key === key));
        });
      }),
      { numRuns: 300 },
    );
  });
});
