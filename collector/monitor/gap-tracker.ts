import type { Gap } from '../store/store.ts';

/**
 * Which gaps were already reported, so each is logged and counted once. A gap that shrinks (part of a
 * hole filled late) is the same gap; one that grows or appears elsewhere is new.
 */
export class GapTracker {
  #reported: readonly Gap[] = [];

  /** The gaps of `current` not reported before; remembers `current` (gaps that closed are forgotten). */
  update(current: readonly Gap[]): Gap[] {
    const fresh = current.filter(
      (gap) =>
        !this.#reported.some(
          (old) =>
            old.sidecar === gap.sidecar &&
            old.kind === gap.kind &&
            old.fromSeq <= gap.fromSeq &&
            gap.toSeq <= old.toSeq,
        ),
    );
    this.#reported = current;
    return fresh;
  }
}

export const OTHER = '(other)';

/**
 * The largest `limit` values of `totals` as label sets, and the rest summed under `other`: one noisy
 * fleet must not grow the metrics without bound.
 */
export function capLabels<Labels>(
  entries: ReadonlyArray<{ labels: Labels; value: number }>,
  limit: number,
  other: Labels,
): Array<{ labels: Labels; value: number }> {
  if (entries.length <= limit) return [...entries];
  const sorted = [...entries].sort((a, b) => b.value - a.value);
  const kept = sorted.slice(0, limit);
  const rest = sorted.slice(limit).reduce((sum, entry) => sum + entry.value, 0);
  return [...kept, { labels: other, value: rest }];
}
