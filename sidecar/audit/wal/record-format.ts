import { crc32 } from 'node:zlib';
import { MAX_AUDIT_EVENT_BYTES } from '../../../lib/json-limits.ts';
import { WalRecordTooLargeError } from './errors.ts';

/**
 * One record on disk (little-endian):
 *
 *   offset  0  u32  magic 0x015750FF (bytes FF 50 57 01)
 *   offset  4  u32  payload length in bytes
 *   offset  8  u32  CRC-32 of bytes 12 .. end (the seq and the payload)
 *   offset 12  u64  seq
 *   offset 20  ...  payload: the stamped event as one JSON line, UTF-8, without the newline
 *
 * The magic holds 0xFF, which never occurs in UTF-8, and 0x01, which JSON never writes raw: a payload can
 * never contain it, so recovery can search for the next record after a damaged one without being misled by
 * event text. The CRC covers the seq so a record copied to the wrong place is not taken for another.
 */
export const RECORD_MAGIC = 0x015750ff;
export const RECORD_MAGIC_BYTES = Buffer.from([0xff, 0x50, 0x57, 0x01]);
export const RECORD_HEADER_BYTES = 20;
/**
 * A sane bound on one event; anything longer in a header is damage, not data. The collector's bound on one
 * event too (lib/json-limits.ts): a record the WAL holds is never too large to store.
 */
export const MAX_PAYLOAD_BYTES = MAX_AUDIT_EVENT_BYTES;

const TWO_TO_32 = 2 ** 32;
/** The high word of the largest safe integer: seqs above it do not round-trip through a JS number. */
const MAX_SEQ_HIGH_WORD = Math.floor(Number.MAX_SAFE_INTEGER / TWO_TO_32);
/** UTF-8 needs at most 3 bytes per UTF-16 code unit: below this, the scratch buffer surely fits. */
const MAX_UTF8_BYTES_PER_UNIT = 3;

export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + payloadBytes;
}

/**
 * Frames records into one reused scratch buffer, so the append hot path allocates nothing per record. The
 * returned buffer is only valid until the next encode: the caller writes it synchronously.
 */
export class RecordEncoder {
  #scratch = Buffer.allocUnsafe(64 * 1024);

  encode(seq: number, json: string): Buffer {
    let payloadBytes: number;
    if (json.length * MAX_UTF8_BYTES_PER_UNIT <= this.#scratch.length - RECORD_HEADER_BYTES) {
      payloadBytes = this.#scratch.write(json, RECORD_HEADER_BYTES, 'utf8');
    } else {
      payloadBytes = Buffer.byteLength(json, 'utf8');
      if (payloadBytes > MAX_PAYLOAD_BYTES)
        throw new WalRecordTooLargeError(
          `an audit event of ${payloadBytes} bytes exceeds the WAL record limit of ${MAX_PAYLOAD_BYTES} bytes`,
        );
      if (recordBytes(payloadBytes) > this.#scratch.length)
        this.#scratch = Buffer.allocUnsafe(recordBytes(payloadBytes));
      this.#scratch.write(json, RECORD_HEADER_BYTES, 'utf8');
    }
    const record = this.#scratch.subarray(0, recordBytes(payloadBytes));
    record.writeUInt32LE(RECORD_MAGIC, 0);
    record.writeUInt32LE(payloadBytes, 4);
    record.writeUInt32LE(seq % TWO_TO_32, 12);
    record.writeUInt32LE(Math.floor(seq / TWO_TO_32), 16);
    record.writeUInt32LE(crc32(record.subarray(12)), 8);
    return record;
  }
}

export interface RecordHeader {
  readonly payloadBytes: number;
  readonly crc: number;
  readonly seq: number;
}

/**
 * The header at offset, or undefined when the bytes there cannot start a record: a wrong magic, a length
 * over the limit, or a seq of 0 or beyond 2^53. Needs RECORD_HEADER_BYTES available at offset.
 */
export function parseHeader(buffer: Buffer, offset: number): RecordHeader | undefined {
  if (buffer.readUInt32LE(offset) !== RECORD_MAGIC) return undefined;
  const payloadBytes = buffer.readUInt32LE(offset + 4);
  if (payloadBytes > MAX_PAYLOAD_BYTES) return undefined;
  const high = buffer.readUInt32LE(offset + 16);
  if (high > MAX_SEQ_HIGH_WORD) return undefined;
  const seq = high * TWO_TO_32 + buffer.readUInt32LE(offset + 12);
  if (seq < 1 || seq > Number.MAX_SAFE_INTEGER) return undefined;
  return { payloadBytes, crc: buffer.readUInt32LE(offset + 8), seq };
}

/** Whether the record at offset (header and payload both in buffer) carries the CRC it claims. */
export function checksumMatches(buffer: Buffer, offset: number, header: RecordHeader): boolean {
  const end = offset + recordBytes(header.payloadBytes);
  return crc32(buffer.subarray(offset + 12, end)) === header.crc;
}
