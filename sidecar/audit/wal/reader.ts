import { open } from 'node:fs/promises';
import { systemErrorCode, WalIoError } from './errors.ts';
import { checksumMatches, parseHeader, RECORD_HEADER_BYTES, recordBytes } from './record-format.ts';
import type { Segment } from './segment.ts';

/** One record as the shipper sends it: the payload is the event's JSON line, without the newline. */
export interface WalRecord {
  readonly seq: number;
  readonly payload: Buffer;
}

export interface ReadRequest {
  readonly afterSeq: number;
  /** Only records up to this seq (the durable ones) are returned. */
  readonly throughSeq: number;
  readonly maxCount: number;
  readonly maxBytes: number;
}

/** A record that no longer matches its checksum when read back: it is skipped and reported lost. */
export type OnDamagedRecord = (seq: number, reason: string) => void;

interface Slice {
  readonly segment: Segment;
  readonly from: number;
  readonly to: number; // exclusive
}

/**
 * Plans the read from the in-memory index without touching the disk, so appends never wait for it: which
 * records of which segments, within the count and byte budgets (at least one record, however large, so an
 * oversized event cannot stall the shipper).
 */
function plan(segments: readonly Segment[], request: ReadRequest): Slice[] {
  const slices: Slice[] = [];
  let count = 0;
  let bytes = 0;
  for (const segment of segments) {
    const index = segment.index;
    if (index.count === 0 || index.lastSeq <= request.afterSeq) continue;
    const from = index.firstPositionAfter(request.afterSeq);
    let to = from;
    while (to < index.count && count < request.maxCount && index.seqAt(to) <= request.throughSeq) {
      const size = index.payloadBytesAt(to);
      if (count > 0 && bytes + size > request.maxBytes) break;
      bytes += size;
      count++;
      to++;
    }
    if (to > from) slices.push({ segment, from, to });
    if (to < index.count) break; // a budget or the durable bound stopped us inside this segment
  }
  return slices;
}

export async function readRecords(
  segments: readonly Segment[],
  request: ReadRequest,
  onDamaged: OnDamagedRecord,
): Promise<WalRecord[]> {
  const records: WalRecord[] = [];
  for (const slice of plan(segments, request)) {
    const chunk = await readSlice(slice);
    if (chunk === undefined) continue;
    const index = slice.segment.index;
    const base = index.offsetAt(slice.from);
    for (let position = slice.from; position < slice.to; position++) {
      const seq = index.seqAt(position);
      const offset = index.offsetAt(position) - base;
      const header = parseHeader(chunk, offset);
      if (
        header === undefined ||
        header.seq !== seq ||
        header.payloadBytes !== index.payloadBytesAt(position)
      ) {
        onDamaged(seq, `WAL record ${seq} in ${slice.segment.path} has a damaged header when read back`);
        continue;
      }
      if (!checksumMatches(chunk, offset, header)) {
        onDamaged(seq, `WAL record ${seq} in ${slice.segment.path} fails its checksum when read back`);
        continue;
      }
      records.push({
        seq,
        payload: chunk.subarray(offset + RECORD_HEADER_BYTES, offset + recordBytes(header.payloadBytes)),
      });
    }
  }
  return records;
}

/** The bytes of a slice, or undefined when its segment was acknowledged and deleted meanwhile. */
async function readSlice(slice: Slice): Promise<Buffer | undefined> {
  const index = slice.segment.index;
  const start = index.offsetAt(slice.from);
  const last = slice.to - 1;
  const end = index.offsetAt(last) + recordBytes(index.payloadBytesAt(last));
  const buffer = Buffer.alloc(end - start);
  let file;
  try {
    file = await open(slice.segment.path, 'r');
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT' && slice.segment.deleted) return undefined;
    throw new WalIoError(`could not open WAL segment ${slice.segment.path}: ${systemErrorCode(error)}`, {
      cause: error,
    });
  }
  try {
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, start + filled);
      if (bytesRead === 0) break; // cut short on disk: the records past it read as zeros and count as damaged
      filled += bytesRead;
    }
    return buffer;
  } catch (error) {
    throw new WalIoError(`could not read WAL segment ${slice.segment.path}: ${systemErrorCode(error)}`, {
      cause: error,
    });
  } finally {
    await file.close();
  }
}
