import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FileWindow } from './byte-source.ts';
import type { SegmentFile } from './directory-listing.ts';
import { sidecarIdOfPayload } from './identity.ts';
import { withLostRange, type LostRange } from './lost-ranges.ts';
import type { WalLogger } from './options.ts';
import { RECORD_HEADER_BYTES } from './record-format.ts';
import { RecordIndex } from './record-index.ts';
import { Segment } from './segment.ts';
import { scanSegment, type SegmentScan } from './segment-scan.ts';

/**
 * Validates every segment, in log order, and rebuilds their indexes. Damage costs only the damaged records:
 *
 * - a torn tail (junk after the last valid record of a segment) is cut off;
 * - a damaged region followed by valid records is skipped;
 * - every seq missing between two recovered records (a damaged region, a tail torn before the next segment,
 *   a vanished segment) is recorded as lost, unless the collector already acknowledged it;
 * - records that do not continue the ascending sequence (a segment copied twice) are ignored;
 * - segments left with no record above the ack cursor are deleted;
 * - the kept segments are fsynced: after a kill their last writes may be only in the page cache, and the
 *   shipper must only ever see durable records.
 */
export interface RecoveredSegments {
  readonly segments: Segment[];
  /** The highest valid seq found (0 when none). */
  readonly lastSeq: number;
  readonly lost: LostRange[];
  /** The `sidecar` the first valid record was stamped with, if it names one. */
  readonly sidecarInLog: string | undefined;
}

export function recoverSegments(
  dir: string,
  files: readonly SegmentFile[],
  ackedSeq: number,
  knownLost: LostRange[],
  log: WalLogger,
): RecoveredSegments {
  const recovery = new SegmentRecovery(ackedSeq, knownLost, log);
  for (const file of files) recovery.recoverFile(join(dir, file.name), file.name);
  return recovery;
}

class SegmentRecovery implements RecoveredSegments {
  readonly segments: Segment[] = [];
  lastSeq = 0;
  lost: LostRange[];
  sidecarInLog: string | undefined;
  readonly #ackedSeq: number;
  readonly #log: WalLogger;
  #probedIdentity = false;
  /** Damage seen since the last good record: it explains the next gap. */
  #lossReason: string | undefined;

  constructor(ackedSeq: number, knownLost: LostRange[], log: WalLogger) {
    this.#ackedSeq = ackedSeq;
    this.lost = knownLost;
    this.#log = log;
  }

  recoverFile(path: string, name: string): void {
    const fd = openSync(path, 'r+');
    try {
      const size = fstatSync(fd).size;
      const window = new FileWindow(fd, size);
      const scan = scanSegment(window);
      const index = this.#indexRecords(name, scan, window);
      const validSize = scan.tornTail?.offset ?? size;
      if (scan.tornTail !== undefined) {
        this.#log.warn(
          { segment: name, offset: validSize, bytes: size - validSize, reason: scan.tornTail.reason },
          'truncating the torn tail of a WAL segment',
        );
        ftruncateSync(fd, validSize);
        this.#lossReason ??= `torn tail of ${name} (${scan.tornTail.reason})`;
      }
      if (index.count === 0 || index.lastSeq <= this.#ackedSeq) {
        if (index.count === 0 && validSize > 0)
          this.#log.warn({ segment: name }, 'deleting a WAL segment that holds no new record');
        unlinkSync(path);
        return;
      }
      fsyncSync(fd);
      this.segments.push(new Segment(path, index, validSize, undefined));
    } finally {
      closeSync(fd);
    }
  }

  #indexRecords(name: string, scan: SegmentScan, window: FileWindow): RecordIndex {
    const index = new RecordIndex();
    let damage = 0;
    for (const record of scan.records) {
      for (; damage < scan.damaged.length && scan.damaged[damage]!.offset < record.offset; damage++) {
        const region = scan.damaged[damage]!;
        this.#log.warn(
          { segment: name, offset: region.offset, bytes: region.end - region.offset, reason: region.reason },
          'skipping a damaged region of a WAL segment',
        );
        this.#lossReason ??= `damaged WAL record (${region.reason}) in ${name} at offset ${region.offset}`;
      }
      if (record.seq <= this.lastSeq) {
        this.#log.warn(
          { segment: name, offset: record.offset, seq: record.seq },
          'ignoring an out-of-order WAL record',
        );
        continue;
      }
      const fromSeq = Math.max(this.lastSeq + 1, this.#ackedSeq + 1);
      if (fromSeq < record.seq)
        this.lost = withLostRange(this.lost, {
          fromSeq,
          toSeq: record.seq - 1,
          reason: this.#lossReason ?? `WAL records missing before ${name}`,
        });
      if (!this.#probedIdentity) {
        this.#probedIdentity = true; // one record tells; parsing every payload would slow recovery down
        this.sidecarInLog = sidecarIdOfPayload(
          window.read(record.offset + RECORD_HEADER_BYTES, record.payloadBytes),
        );
      }
      index.push(record.seq, record.offset, record.payloadBytes);
      this.lastSeq = record.seq;
      this.#lossReason = undefined;
    }
    return index;
  }
}
