import { z } from 'zod';

/**
 * Seqs the WAL knows it lost (records damaged on disk and skipped by recovery or by a read). They are
 * evidence too: kept in `lost.json` until the shipper has reported them (heartbeat `lost`), then cleared.
 */
export const LOST_FILE = 'lost.json';

/** The heartbeat carries at most this many ranges (api/audit/v1/ingest.ts). */
export const MAX_LOST_RANGES = 1024;
const MAX_REASON_LENGTH = 1024;

export interface LostRange {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly reason: string;
}

const lostRanges = z.array(
  z.object({
    fromSeq: z.int().min(1),
    toSeq: z.int().min(1),
    reason: z.string().max(MAX_REASON_LENGTH),
  }),
);

/** The ranges in a lost.json's content, or undefined when it is not a valid list. */
export function parseLostRanges(content: string): LostRange[] | undefined {
  try {
    const parsed = lostRanges.safeParse(JSON.parse(content));
    return parsed.success ? parsed.data.filter((range) => range.fromSeq <= range.toSeq) : undefined;
  } catch {
    return undefined;
  }
}

export function formatLostRanges(ranges: readonly LostRange[]): string {
  return `${JSON.stringify(ranges)}\n`;
}

/**
 * The list with range added, sorted by fromSeq. A range already covered by a listed one is not added again:
 * recovery finds the same damage at every restart until the segment holding it is acknowledged. Beyond
 * MAX_LOST_RANGES the two newest ranges are merged: over-reporting a gap is safe, the collector holds what it
 * holds, while dropping one would hide a loss.
 */
export function withLostRange(ranges: readonly LostRange[], range: LostRange): LostRange[] {
  if (ranges.some((r) => r.fromSeq <= range.fromSeq && range.toSeq <= r.toSeq)) return [...ranges];
  const added = { ...range, reason: range.reason.slice(0, MAX_REASON_LENGTH) };
  const result = [...ranges, added].sort((a, b) => a.fromSeq - b.fromSeq);
  while (result.length > MAX_LOST_RANGES) {
    const last = result.pop()!;
    const previous = result.pop()!;
    result.push({
      fromSeq: previous.fromSeq,
      toSeq: Math.max(previous.toSeq, last.toSeq),
      reason: 'several damaged regions (merged to stay within the reporting limit)',
    });
  }
  return result;
}

/** The list without the ranges the shipper reported (matched by fromSeq and toSeq). */
export function withoutLostRanges(
  ranges: readonly LostRange[],
  reported: readonly Pick<LostRange, 'fromSeq' | 'toSeq'>[],
): LostRange[] {
  return ranges.filter((r) => !reported.some((x) => x.fromSeq === r.fromSeq && x.toSeq === r.toSeq));
}
