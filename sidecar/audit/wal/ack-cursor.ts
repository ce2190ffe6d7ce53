import { closeSync, fdatasync, openSync, write } from 'node:fs';
import { crc32 } from 'node:zlib';
import { systemErrorCode, walErrorFromSystemError, WalIoError } from './errors.ts';

/**
 * The ack cursor: the highest seq the collector has durably stored. It is made durable before the segments
 * it covers are deleted, so that after a restart with every segment gone the sequence continues above it
 * instead of reusing seqs the collector already holds (it would drop the new events as duplicates).
 *
 * It is updated in place, not by replacing the file: an acknowledgement is what frees space, so it must work
 * on a full volume, where creating a replacement file fails with ENOSPC. Two 16-byte slots, each with its own
 * CRC, are overwritten alternately: a write torn by a power loss spoils only its own slot, and the other still
 * holds the previous cursor (a lower cursor only means re-shipping, which the collector de-duplicates).
 *
 *   slot: u32 magic 0x415750FF | u32 seq low | u32 seq high | u32 CRC-32 of the first 12 bytes
 */
export const ACK_FILE = 'acked';
const ACK_MAGIC = 0x415750ff;
const SLOT_BYTES = 16;
const TWO_TO_32 = 2 ** 32;

function encodeSlot(seq: number): Buffer {
  const slot = Buffer.alloc(SLOT_BYTES);
  slot.writeUInt32LE(ACK_MAGIC, 0);
  slot.writeUInt32LE(seq % TWO_TO_32, 4);
  slot.writeUInt32LE(Math.floor(seq / TWO_TO_32), 8);
  slot.writeUInt32LE(crc32(slot.subarray(0, 12)), 12);
  return slot;
}

function decodeSlot(content: Buffer, offset: number): number | undefined {
  if (content.length < offset + SLOT_BYTES) return undefined;
  const slot = content.subarray(offset, offset + SLOT_BYTES);
  if (slot.readUInt32LE(0) !== ACK_MAGIC || crc32(slot.subarray(0, 12)) !== slot.readUInt32LE(12))
    return undefined;
  const seq = slot.readUInt32LE(8) * TWO_TO_32 + slot.readUInt32LE(4);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** A fresh cursor file: both slots hold seq. */
export function ackCursorFileContent(seq: number): Buffer {
  return Buffer.concat([encodeSlot(seq), encodeSlot(seq)]);
}

export interface ParsedAckCursor {
  readonly seq: number;
  /** The slot the next update overwrites: the one not holding the cursor. */
  readonly nextSlot: number;
}

/** The cursor in a file's content (the higher valid slot), or undefined when no slot is valid. */
export function parseAckCursor(content: Buffer): ParsedAckCursor | undefined {
  const first = decodeSlot(content, 0);
  const second = decodeSlot(content, SLOT_BYTES);
  if (first === undefined && second === undefined) return undefined;
  if (second === undefined || (first !== undefined && first >= second)) return { seq: first!, nextSlot: 1 };
  return { seq: second, nextSlot: 0 };
}

export class AckCursorFile {
  readonly #path: string;
  readonly #fd: number;
  #nextSlot: number;
  #durableSeq: number;
  #latestSeq: number;
  #writing: Promise<void> | undefined;

  private constructor(path: string, fd: number, cursor: ParsedAckCursor) {
    this.#path = path;
    this.#fd = fd;
    this.#nextSlot = cursor.nextSlot;
    this.#durableSeq = cursor.seq;
    this.#latestSeq = cursor.seq;
  }

  /** Opens an existing, valid cursor file (recovery creates it). */
  static open(path: string, cursor: ParsedAckCursor): AckCursorFile {
    try {
      return new AckCursorFile(path, openSync(path, 'r+'), cursor);
    } catch (error) {
      throw new WalIoError(`could not open the WAL ack cursor ${path}: ${systemErrorCode(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Resolves once the cursor on disk is at least seq. Writes are serialised (two writers must not pick the
   * same slot) and coalesced: a burst of acknowledgements costs about two writes.
   */
  async save(seq: number): Promise<void> {
    this.#latestSeq = Math.max(this.#latestSeq, seq);
    while (this.#durableSeq < seq) {
      if (this.#writing !== undefined) {
        await this.#writing.catch(() => undefined); // its failure is its saver's; we write our own
        continue;
      }
      const value = this.#latestSeq;
      this.#writing = this.#write(value).finally(() => {
        this.#writing = undefined;
      });
      await this.#writing;
    }
  }

  async settled(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing.catch(() => undefined);
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Every write was fdatasynced.
    }
  }

  async #write(seq: number): Promise<void> {
    const slot = encodeSlot(seq);
    try {
      await new Promise<void>((resolve, reject) =>
        write(this.#fd, slot, 0, SLOT_BYTES, this.#nextSlot * SLOT_BYTES, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      await new Promise<void>((resolve, reject) =>
        fdatasync(this.#fd, (error) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      // The same slot is tried again next time: the other one still holds the last durable cursor.
      throw walErrorFromSystemError(error, `could not write the WAL ack cursor ${this.#path}`);
    }
    this.#nextSlot ^= 1;
    this.#durableSeq = Math.max(this.#durableSeq, seq);
  }
}
