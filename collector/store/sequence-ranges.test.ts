import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contiguousThrough, holesBetween, mergeRuns, runsOf, type SeqRange } from './sequence-ranges.ts';

describe('sequence ranges', () => {
  it('finds runs of consecutive seqs', () => {
    expect(runsOf([1, 2, 3, 5, 7, 8])).toEqual([
      { from: 1, to: 3 },
      { from: 5, to: 5 },
      { from: 7, to: 8 },
    ]);
    expect(runsOf([])).toEqual([]);
  });

  it('merges runs into touching ranges, keeping the storedAt of the lowest part', () => {
    const nearby: SeqRange[] = [
      { from: 1, to: 4, storedAt: 't1' },
      { from: 8, to: 9, storedAt: 't2' },
    ];
    expect(mergeRuns(nearby, [{ from: 5, to: 7 }], 't3')).toEqual({
      removed: nearby,
      added: [{ from: 1, to: 9, storedAt: 't1' }],
    });
    expect(mergeRuns(nearby, [{ from: 6, to: 7 }], 't3')).toEqual({
      removed: [nearby[1]],
      added: [{ from: 6, to: 9, storedAt: 't3' }],
    });
  });

  it('folds any sequence of disjoint batches into the ranges of their union (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 10 }), { maxLength: 15 }),
        (batches) => {
          let ranges: SeqRange[] = [];
          const stored = new Set<number>();
          for (const batch of batches) {
            const fresh = batch.filter((seq) => !stored.has(seq)).sort((a, b) => a - b);
            fresh.forEach((seq) => stored.add(seq));
            const change = mergeRuns(ranges, runsOf(fresh), 't');
            ranges = [...ranges.filter((r) => !change.removed.includes(r)), ...change.added].sort(
              (a, b) => a.from - b.from,
            );
          }
          const union = [...stored].sort((a, b) => a - b);
          expect(ranges.map(({ from, to }) => ({ from, to }))).toEqual(runsOf(union));
          let contiguous = 0;
          while (stored.has(contiguous + 1)) contiguous++;
          expect(contiguousThrough(ranges)).toBe(contiguous);
          const holes = holesBetween(ranges).flatMap((h) =>
            Array.from({ length: h.to - h.from + 1 }, (_, i) => h.from + i),
          );
          expect(holes).toEqual(
            Array.from({ length: union.at(-1) ?? 0 }, (_, i) => i + 1).filter((s) => !stored.has(s)),
          );
        },
      ),
    );
  });
});
