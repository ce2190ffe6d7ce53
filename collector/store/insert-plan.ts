import type { EventRow } from './rows.ts';
import { isCovered, mergeRuns, runsOf, type RangeChange, type SeqRange } from './sequence-ranges.ts';

/** What storing one sidecar's part of a batch changes; both stores apply it inside their transaction. */
export interface GroupPlan {
  /** Rows whose seq was never stored: insert these. */
  readonly fresh: readonly EventRow[];
  readonly ranges: RangeChange;
  /** The highest fresh seq (0 when none). */
  readonly highestSeq: number;
  /** The new contiguousThrough when the fresh rows extend the range from 1; 0 otherwise. */
  readonly contiguousThrough: number;
}

/**
 * Plans one sidecar's rows against the stored ranges near them (every range with to >= min seq - 1 and
 * from <= max seq + 1), read under the same lock the plan is applied under. A seq inside a range was
 * stored before, and may since have been deleted by retention: it is a duplicate either way.
 */
export function planGroup(
  rows: readonly EventRow[],
  nearby: readonly SeqRange[],
  storedAt: string,
): GroupPlan {
  const fresh = rows.filter((row) => !isCovered(row.seq, nearby));
  const seqs = fresh.map((row) => row.seq).sort((a, b) => a - b);
  const ranges = mergeRuns(nearby, runsOf(seqs), storedAt);
  return {
    fresh,
    ranges,
    highestSeq: seqs.at(-1) ?? 0,
    contiguousThrough: ranges.added.find((range) => range.from === 1)?.to ?? 0,
  };
}

/** The lowest and highest seq of a sidecar's rows, widened by one: the span whose ranges a plan needs. */
export function nearbySpan(rows: readonly EventRow[]): { low: number; high: number } {
  let low = Number.POSITIVE_INFINITY;
  let high = 0;
  for (const row of rows) {
    if (row.seq < low) low = row.seq;
    if (row.seq > high) high = row.seq;
  }
  return { low: low - 1, high: high + 1 };
}
