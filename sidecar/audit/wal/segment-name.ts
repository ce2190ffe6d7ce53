/**
 * Segment files are named by the seq of their first record, zero-padded to 20 digits (any u64), so the
 * directory listing sorts them in log order.
 */
const SEGMENT_NAME = /^(\d{20})\.seg$/;

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

/** The first seq a segment file name claims, or undefined for any other name (or one beyond 2^53). */
export function parseSegmentFileName(name: string): number | undefined {
  const digits = SEGMENT_NAME.exec(name)?.[1];
  if (digits === undefined) return undefined;
  const seq = Number(digits);
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined;
}
