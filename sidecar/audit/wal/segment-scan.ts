import type { ByteSource } from './byte-source.ts';
import {
  checksumMatches,
  parseHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC_BYTES,
  recordBytes,
  type RecordHeader,
} from './record-format.ts';

/**
 * Validates every record of one segment and says what the rest of the bytes are. Pure over a ByteSource,
 * so the property tests feed it arbitrary damage.
 *
 * After a bad record the scan looks for the next offset that holds a valid record (the magic can never occur
 * inside a payload, and a candidate must also carry a good CRC). Bytes followed by a valid record are a
 * damaged region in the middle; bytes followed by none are a torn tail: the end of a write that did not
 * finish, or pages the disk never wrote.
 */
export interface ScannedRecord {
  readonly seq: number;
  readonly offset: number;
  readonly payloadBytes: number;
}

export interface DamagedRegion {
  readonly offset: number;
  readonly end: number;
  readonly reason: string;
}

export interface SegmentScan {
  readonly records: readonly ScannedRecord[];
  readonly damaged: readonly DamagedRegion[];
  /** Where the valid data ends when junk follows it; undefined when the last record ends the file. */
  readonly tornTail: { readonly offset: number; readonly reason: string } | undefined;
}

const SEARCH_CHUNK_BYTES = 256 * 1024;

type Probe = { readonly header: RecordHeader } | { readonly header?: undefined; readonly reason: string };

function probe(source: ByteSource, offset: number): Probe {
  if (source.size - offset < RECORD_HEADER_BYTES) return { reason: 'incomplete record header' };
  const headerBytes = source.read(offset, RECORD_HEADER_BYTES);
  const header = parseHeader(headerBytes, 0);
  if (header === undefined)
    return {
      reason: headerBytes.every((byte) => byte === 0) ? 'zero-filled bytes' : 'invalid record header',
    };
  if (offset + recordBytes(header.payloadBytes) > source.size) return { reason: 'incomplete record payload' };
  if (!checksumMatches(source.read(offset, recordBytes(header.payloadBytes)), 0, header))
    return { reason: 'record checksum mismatch' };
  return { header };
}

function nextValidRecord(source: ByteSource, from: number): number | undefined {
  let position = from;
  while (source.size - position >= RECORD_HEADER_BYTES) {
    const length = Math.min(SEARCH_CHUNK_BYTES, source.size - position);
    const found = source.read(position, length).indexOf(RECORD_MAGIC_BYTES);
    if (found >= 0) {
      if (probe(source, position + found).header !== undefined) return position + found;
      position += found + 1;
    } else {
      // The magic may straddle the chunk boundary: resume just before it.
      position += Math.max(1, length - (RECORD_MAGIC_BYTES.length - 1));
    }
  }
  return undefined;
}

export function scanSegment(source: ByteSource): SegmentScan {
  const records: ScannedRecord[] = [];
  const damaged: DamagedRegion[] = [];
  let offset = 0;
  while (offset < source.size) {
    const result = probe(source, offset);
    if (result.header !== undefined) {
      records.push({ seq: result.header.seq, offset, payloadBytes: result.header.payloadBytes });
      offset += recordBytes(result.header.payloadBytes);
      continue;
    }
    const next = nextValidRecord(source, offset + 1);
    if (next === undefined) return { records, damaged, tornTail: { offset, reason: result.reason } };
    damaged.push({ offset, end: next, reason: result.reason });
    offset = next;
  }
  return { records, damaged, tornTail: undefined };
}
