import { createHash } from 'node:crypto';
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
});
