/**
 * Which seqs of a sidecar the store has ever stored, as ranges of consecutive seqs. In steady state a
 * sidecar has one range, 1..N, so a batch costs one range lookup instead of a scan of its events; holes
 * are the spaces between ranges. Ranges outlive retention: an event deleted by age still counts as
 * stored, so a late retry of it is a duplicate and contiguousThrough never goes back.
 */
export interface SeqRange {
  readonly from: number;
  readonly to: number;
  /** When the range's lowest seq was stored: the age of the hole below it. */
  readonly storedAt: string;
}

export interface SeqRun {
  readonly from: number;
  readonly to: number;
}

/** Whether a stored range holds `seq`. */
export function isCovered(seq: number, ranges: readonly SeqRange[]): boolean {
  return ranges.some((range) => range.from <= seq && seq <= range.to);
}

/** Runs of consecutive seqs in an ascending list without repeats. */
export function runsOf(ascending: readonly number[]): SeqRun[] {
  const runs: SeqRun[] = [];
  let from: number | undefined;
  let to = 0;
  for (const seq of ascending) {
    if (from !== undefined && seq === to + 1) {
      to = seq;
      continue;
    }
    if (from !== undefined) runs.push({ from, to });
    from = seq;
    to = seq;
  }
  if (from !== undefined) runs.push({ from, to });
  return runs;
}

export interface RangeChange {
  /** Stored ranges the new runs joined; delete them. */
  readonly removed: readonly SeqRange[];
  /** Ranges to store in their place. */
  readonly added: readonly SeqRange[];
}

/**
 * Folds newly stored runs into the stored ranges near them (those that may touch a run; the runs must not
 * overlap any). A merged range keeps the storedAt of its lowest part.
 */
export function mergeRuns(
  nearby: readonly SeqRange[],
  runs: readonly SeqRun[],
  storedAt: string,
): RangeChange {
  const all = [...nearby, ...runs.map((run) => ({ ...run, storedAt }))].sort((a, b) => a.from - b.from);
  const merged: SeqRange[] = [];
  for (const range of all) {
    const last = merged.at(-1);
    if (last !== undefined && last.to + 1 === range.from)
      merged[merged.length - 1] = { ...last, to: range.to };
    else merged.push(range);
  }
  const same = (a: SeqRange, b: SeqRange): boolean => a.from === b.from && a.to === b.to;
  return {
    removed: nearby.filter((range) => !merged.some((m) => same(m, range))),
    added: merged.filter((range) => !nearby.some((n) => same(n, range))),
  };
}

export interface Hole {
  readonly from: number;
  readonly to: number;
  /** storedAt of the range just above the hole. */
  readonly newerStoredAt: string;
}

/** The holes below the highest stored seq, given one sidecar's ranges in ascending order. */
export function holesBetween(ascending: readonly SeqRange[]): Hole[] {
  const holes: Hole[] = [];
  let below = 0;
  for (const range of ascending) {
    if (range.from > below + 1)
      holes.push({ from: below + 1, to: range.from - 1, newerStoredAt: range.storedAt });
    below = range.to;
  }
  return holes;
}

/** The seq through which every seq is stored, given one sidecar's ranges. */
export function contiguousThrough(ranges: readonly SeqRange[]): number {
  return ranges.find((range) => range.from === 1)?.to ?? 0;
}
