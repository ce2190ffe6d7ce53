import { describe, expect, it } from 'vitest';
import { capLabels, GapTracker, OTHER } from './gap-tracker.ts';

describe('GapTracker', () => {
  it('reports a gap once, keeps quiet while it shrinks, and again after it closed and reopened', () => {
    const tracker = new GapTracker();
    const gap = { sidecar: 'a', fromSeq: 5, toSeq: 10, kind: 'missing' } as const;
    expect(tracker.update([gap])).toEqual([gap]);
    expect(tracker.update([gap])).toEqual([]);
    expect(tracker.update([{ ...gap, fromSeq: 7 }])).toEqual([]);
    expect(tracker.update([])).toEqual([]);
    expect(tracker.update([gap])).toEqual([gap]);
  });

  it('tells kinds and sidecars apart', () => {
    const tracker = new GapTracker();
    tracker.update([{ sidecar: 'a', fromSeq: 1, toSeq: 2, kind: 'missing' }]);
    expect(
      tracker.update([{ sidecar: 'a', fromSeq: 1, toSeq: 2, kind: 'lost', reason: 'crc' }]),
    ).toHaveLength(1);
    expect(tracker.update([{ sidecar: 'b', fromSeq: 1, toSeq: 2, kind: 'missing' }])).toHaveLength(1);
  });
});

describe('capLabels', () => {
  it('keeps the largest and sums the rest under the other label set', () => {
    const entries = [1, 5, 3, 2].map((value) => ({ labels: { name: `n${value}` }, value }));
    expect(capLabels(entries, 2, { name: OTHER })).toEqual([
      { labels: { name: 'n5' }, value: 5 },
      { labels: { name: 'n3' }, value: 3 },
      { labels: { name: OTHER }, value: 3 },
    ]);
    expect(capLabels(entries, 4, { name: OTHER })).toHaveLength(4);
  });
});
