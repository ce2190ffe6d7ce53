import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedState } from './keyed.ts';

describe('KeyedState', () => {
  it('keeps at most maxKeys entries, forgetting the least recently used (to the second) first', () => {
    const state = new KeyedState<{ id: string }>({ maxKeys: 3 });
    const make = (id: string) => () => ({ id });
    state.get('a', 0, make('a'));
    state.get('b', 1000, make('b'));
    state.get('c', 2000, make('c'));
    state.get('a', 3000, make('a2')); // a is used again: b is now the oldest
    state.get('d', 4000, make('d'));
    expect(state.size).toBe(3);
    expect(state.peek('b')).toBeUndefined();
    expect(state.peek('a')).toEqual({ id: 'a' });
    expect(state.evictions).toBe(1);
  });

  it('drops entries idle longer than idleMs, when met and when swept', () => {
    const state = new KeyedState<{ n: number }>({ maxKeys: 10, idleMs: 100 });
    state.get('a', 0, () => ({ n: 1 })).n = 5;
    expect(state.get('a', 100, () => ({ n: 0 })).n).toBe(5);
    expect(state.get('a', 201, () => ({ n: 0 })).n).toBe(0);
    state.get('b', 300, () => ({ n: 0 }));
    expect(state.sweep(1000)).toBe(2);
    expect(state.size).toBe(0);
  });

  it('never forgets an entry in use; grows past maxKeys rather than break a limit', () => {
    const busy = new Set(['a', 'b']);
    const state = new KeyedState<string>({ maxKeys: 2, evictable: (v) => !busy.has(v) });
    state.get('a', 0, () => 'a');
    state.get('b', 0, () => 'b');
    state.get('c', 0, () => 'c');
    expect(state.size).toBe(3);
    expect(state.peek('c')).toBe('c'); // the entry just created is kept too
    busy.delete('a');
    state.get('d', 0, () => 'd');
    expect(state.peek('a')).toBeUndefined();
  });

  it('stays within maxKeys under any flood of keys', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.string({ maxLength: 4 }), { maxLength: 300 }),
        (maxKeys, keys) => {
          const state = new KeyedState<string>({ maxKeys });
          keys.forEach((key, now) => {
            expect(state.get(key, now, () => key)).toBe(key);
            expect(state.size).toBeLessThanOrEqual(maxKeys);
          });
        },
      ),
    );
  });
});
