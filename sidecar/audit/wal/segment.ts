import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { walErrorFromSystemError, WalIoError } from './errors.ts';
import { RECORD_HEADER_BYTES } from './record-format.ts';
import { RecordIndex } from './record-index.ts';
import { segmentFileName } from './segment-name.ts';

/**
 * One segment file as the WAL holds it: its records' index, its size, and, while it is being appended to or
 * still has writes to fsync, an open descriptor.
 */
export class Segment {
  readonly path: string;
  readonly index: RecordIndex;
  size: number;
  /** Open while the segment is active or has writes not yet fsynced; closed otherwise. */
  fd: number | undefined;
  /** Written since the last fsync that covered it. */
  unsynced = false;
  /** Acknowledged and unlinked (its descriptor may outlive it until an in-flight fsync ends). */
  deleted = false;

  constructor(path: string, index: RecordIndex, size: number, fd: number | undefined) {
    this.path = path;
    this.index = index;
    this.size = size;
    this.fd = fd;
  }

  /** Creates the file for a new active segment; never replaces an existing one. */
  static create(dir: string, nameSeq: number): Segment {
    const path = join(dir, segmentFileName(nameSeq));
    try {
      return new Segment(path, new RecordIndex(), 0, openSync(path, 'wx', 0o600));
    } catch (error) {
      throw walErrorFromSystemError(error, `could not create WAL segment ${path}`);
    }
  }

  /**
   * Writes one framed record at the end with synchronous writes: when this returns the kernel holds it, so
   * a killed process cannot lose it. On failure the file is cut back to where the record began, so no torn
   * record is left for later records to follow; positional writes mean that even if the cut fails the next
   * record overwrites the remains.
   */
  append(record: Buffer, seq: number): void {
    const fd = this.fd;
    if (fd === undefined) throw new WalIoError(`WAL segment ${this.path} is not open for appending`);
    const start = this.size;
    let written = 0;
    try {
      while (written < record.length) {
        const n = writeSync(fd, record, written, record.length - written, start + written);
        if (n <= 0) throw new WalIoError(`short write to WAL segment ${this.path}`);
        written += n;
      }
    } catch (error) {
      try {
        ftruncateSync(fd, start);
      } catch {
        // Nothing more to do: the next append writes at `start` again.
      }
      if (error instanceof WalIoError) throw error;
      throw walErrorFromSystemError(error, `could not write to WAL segment ${this.path}`);
    }
    this.size = start + record.length;
    this.index.push(seq, start, record.length - RECORD_HEADER_BYTES);
  }

  closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // A close error on a file we only appended to and fsynced carries no news.
    }
  }
}
