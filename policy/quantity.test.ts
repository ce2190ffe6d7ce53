import { describe, expect, it } from 'vitest';
import { quantityToBytes } from './quantity.ts';

describe('quantityToBytes', () => {
  it.each([
    ['1Mi', 1048576],
    ['256Ki', 262144],
    ['1M', 1000000],
    ['1500', 1500],
    [2048, 2048],
    ['1.5Ki', 1536],
  ])('%s is %d bytes', (q, bytes) => expect(quantityToBytes(q)).toBe(bytes));
  it.each(['1m', 'abc', '-1Mi', '1 Mi'])('%s is not a byte size', (q) =>
    expect(quantityToBytes(q)).toBeUndefined(),
  );
});
