import { closeSync, fdatasync, fsync, openSync, unlinkSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AuditEventDraft } from '../../../api/audit/v1/event.ts';
import { ACK_FILE, AckCursorFile } from './ack-cursor.ts';
import { systemErrorCode, WalClosedError, WalFullError, WalIoError, WalArgumentError } from './errors.ts';
import { GroupCommit } from './group-commit.ts';
import {
  formatLostRanges,
  LOST_FILE,
  withLostRange,
  withoutLostRanges,
  type LostRange,
} from './lost-ranges.ts';
import { resolveWalOptions, type ResolvedWalOptions, type WriteAheadLogOptions } from './options.ts';
import { readRecords, type WalRecord } from './reader.ts';
import { RecordEncoder } from './record-format.ts';
import { recoverWal, type RecoveredWal } from './recovery.ts';
import { Segment } from './segment.ts';
import { EventStamper, type WalStamp } from './stamp.ts';
import { StateFile } from './state-file.ts';

export type { WalRecord } from './reader.ts';
export type { LostRange } from './lost-ranges.ts';
export type { WalStamp } from './stamp.ts';
export type { WalLogger, WalSync, WriteAheadLogOptions } from './options.ts';

const fdatasyncAsync = (fd: number) =>
  new Promise<void>((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
const fsyncAsync = (fd: number) =>
  new Promise<void>((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));

/**
 * The sidecar's audit write-ahead log: stamps each event draft with the WAL identity and the next seq
 * (1, 2, 3, ... without holes, across restarts), writes it to a segment file before returning, and hands
 * durable records to the shipper, deleting them only once the collector has acknowledged them.
 *
 * Durability: every append reaches the kernel before it returns (a killed process loses nothing).
 * appendStrict resolves after an fsync that began after its write; appendBatched returns at once and is
 * fsynced within syncIntervalMs (only a power loss can cost a batched event that young). The shipper only
 * ever sees fsynced records, so a torn tail cut off after a power loss never held a seq the collector has.
 *
 * Bounded: an append that would take the segments past maxBytes, or that the volume refuses for space, throws
 * WalFullError and consumes no seq; hasRoom() is the admission check before a call is forwarded.
 */
export class WriteAheadLog {
  readonly sidecarId: string;
  readonly #options: ResolvedWalOptions;
  readonly #encoder = new RecordEncoder();
  readonly #stamper: EventStamper;
  readonly #commit: GroupCommit;
  readonly #directoryFd: number;
  readonly #ackCursor: AckCursorFile;
  readonly #lostFile: StateFile;
  /** Every segment on disk, in log order; the active one (if any) is last. */
  #segments: Segment[];
  #active: Segment | undefined;
  #unsynced: Segment[] = [];
  /** Segments to close once the running sync no longer uses their descriptors. */
  #closeAfterSync: Segment[] = [];
  #directoryUnsynced = false;
  #highestSegmentName: number;
  #lastSeq: number;
  #ackedSeq: number;
  #bytes: number;
  #lost: LostRange[];
  #volumeFullAt: number | undefined;
  #recordWaiters: { afterSeq: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #acknowledging: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;

  private constructor(
    options: ResolvedWalOptions,
    recovered: RecoveredWal,
    directoryFd: number,
    ackCursor: AckCursorFile,
  ) {
    this.#options = options;
    this.sidecarId = recovered.sidecarId;
    this.#stamper = new EventStamper(recovered.sidecarId);
    this.#segments = recovered.segments;
    this.#highestSegmentName = recovered.highestSegmentName;
    this.#lastSeq = recovered.lastSeq;
    this.#ackedSeq = recovered.ackedSeq;
    this.#lost = recovered.lost;
    this.#bytes = recovered.segments.reduce((sum, segment) => sum + segment.size, 0);
    this.#directoryFd = directoryFd;
    this.#ackCursor = ackCursor;
    this.#lostFile = new StateFile(join(options.dir, LOST_FILE));
    this.#commit = new GroupCommit(
      {
        intervalMs: options.syncIntervalMs,
        sync: () => this.#sync(),
        onDurable: (throughSeq, durationMs) => this.#onDurable(throughSeq, durationMs),
        onFailure: (error) => {
          options.log.error({ err: error }, 'WAL fsync failed: refusing appends until restart');
          this.#rejectRecordWaiters(error);
        },
      },
      recovered.lastSeq,
    );
  }

  /** Opens (creating or recovering) the WAL in options.dir. Throws WalError subclasses only. */
  static async open(options: WriteAheadLogOptions): Promise<WriteAheadLog> {
    const resolved = resolveWalOptions(options);
    const recovered = recoverWal(resolved.dir, resolved.log);
    let directoryFd: number;
    try {
      directoryFd = openSync(resolved.dir, 'r');
    } catch (error) {
      throw new WalIoError(`could not open the WAL directory ${resolved.dir}: ${systemErrorCode(error)}`, {
        cause: error,
      });
    }
    let ackCursor: AckCursorFile;
    try {
      ackCursor = AckCursorFile.open(join(resolved.dir, ACK_FILE), recovered.ackCursor);
    } catch (error) {
      closeSync(directoryFd);
      throw error;
    }
    return new WriteAheadLog(resolved, recovered, directoryFd, ackCursor);
  }

  /** The highest seq written (durable or not). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The highest seq known to be fsynced. */
  get durableSeq(): number {
    return this.#commit.durableSeq;
  }

  /** The highest seq the collector has acknowledged. */
  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Bytes of all segments on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Seq ranges known lost to damage, until the shipper clears them after reporting. */
  get lost(): readonly LostRange[] {
    return this.#lost;
  }

  /**
   * The admission check before a call is forwarded: false when less than the admission reserve is left,
   * when the volume recently reported it is full, or when the WAL is closed or broken.
   */
  hasRoom(): boolean {
    if (this.#closed !== undefined || this.#commit.failure !== undefined) return false;
    if (this.#bytes + this.#options.admissionReserveBytes > this.#options.maxBytes) return false;
    if (this.#volumeFullAt === undefined) return true;
    if (performance.now() - this.#volumeFullAt < this.#options.volumeFullBackoffMs) return false;
    this.#volumeFullAt = undefined;
    return true;
  }

  /**
   * Appends the draft stamped (the record holds `{ ...draft, sidecar, seq }`) and returns the stamp once
   * the kernel holds it; it is fsynced within syncIntervalMs. The stamp, not a stamped copy of the event:
   * nothing on the hot path needs one.
   */
  appendBatched(draft: AuditEventDraft): WalStamp {
    return this.#append(draft);
  }

  /** Appends the draft stamped and resolves with the stamp once it is durable (fsynced). */
  appendStrict(draft: AuditEventDraft): Promise<WalStamp> {
    let stamp: WalStamp;
    try {
      stamp = this.#append(draft);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.#commit.durable(stamp.seq).then(() => stamp);
  }

  /** Resolves once every record written so far is durable. */
  flush(): Promise<void> {
    return this.#commit.durable(this.#lastSeq);
  }

  /**
   * Durable records with seq > afterSeq, in order: at most maxCount, and at most maxBytes of payload unless
   * the first record alone is larger. Records found damaged are skipped and added to `lost`.
   */
  async read(afterSeq: number, maxCount: number, maxBytes: number): Promise<WalRecord[]> {
    this.#assertOpen();
    if (
      !Number.isSafeInteger(afterSeq) ||
      afterSeq < 0 ||
      !Number.isSafeInteger(maxCount) ||
      maxCount < 1 ||
      !(maxBytes >= 0)
    )
      throw new WalArgumentError(
        `invalid WAL read (afterSeq ${afterSeq}, maxCount ${maxCount}, maxBytes ${maxBytes})`,
      );
    return readRecords(
      [...this.#segments],
      { afterSeq, throughSeq: this.#commit.durableSeq, maxCount, maxBytes },
      (seq, reason) => this.#recordLost({ fromSeq: seq, toSeq: seq, reason }),
    );
  }

  /** Resolves when a durable record above afterSeq exists; rejects when the WAL closes or breaks, or on abort. */
  waitForRecords(afterSeq: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new WalClosedError('the WAL is closed'));
    if (this.#commit.failure !== undefined) return Promise.reject(this.#commit.failure);
    if (this.#commit.durableSeq > afterSeq) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter = { afterSeq, resolve, reject };
    this.#recordWaiters.push(waiter);
    if (signal !== undefined) {
      const onAbort = () => {
        this.#recordWaiters = this.#recordWaiters.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void promise.then(
        () => signal.removeEventListener('abort', onAbort),
        () => signal.removeEventListener('abort', onAbort),
      );
    }
    return promise;
  }

  /**
   * The collector durably stored everything up to throughSeq: persist the cursor, then delete every segment
   * (the active one included) whose records are all at or below it. The cursor goes first: were the segments
   * gone and the cursor not, a restart would hand out their seqs again.
   */
  acknowledge(throughSeq: number): Promise<void> {
    const run = this.#acknowledging.then(() => this.#acknowledge(throughSeq));
    this.#acknowledging = run.catch(() => undefined);
    return run;
  }

  /** Forgets lost ranges once the shipper has reported them. */
  async clearLost(reported: readonly Pick<LostRange, 'fromSeq' | 'toSeq'>[]): Promise<void> {
    this.#assertOpen();
    this.#lost = withoutLostRanges(this.#lost, reported);
    await this.#lostFile.save(formatLostRanges(this.#lost));
  }

  /**
   * Records seqs the collector refused for good (unstorable_event: an event it can never store) as lost.
   * Persisted before it resolves, so the shipper may acknowledge past them: the loss is still reported,
   * as a gap, across a restart.
   */
  async reportLost(range: LostRange): Promise<void> {
    this.#assertOpen();
    this.#options.log.error({ ...range }, 'audit event lost: the collector can never store it');
    this.#lost = withLostRange(this.#lost, range);
    await this.#lostFile.save(formatLostRanges(this.#lost));
  }

  /** Makes everything written durable, stops the timers and closes the files. Appends then throw WalClosedError. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  #append(draft: AuditEventDraft): WalStamp {
    if (this.#closed !== undefined) throw new WalClosedError('the WAL is closed');
    const failure = this.#commit.failure;
    if (failure !== undefined)
      throw new WalIoError(`the WAL is broken: ${failure.message}`, { cause: failure });
    const seq = this.#lastSeq + 1;
    const json = this.#stamper.json(draft, seq);
    const record = this.#encoder.encode(seq, json);
    if (this.#bytes + record.length > this.#options.maxBytes)
      throw new WalFullError(
        `the WAL is full: ${this.#bytes} of ${this.#options.maxBytes} bytes in use, the event needs ${record.length}`,
      );
    const segment = this.#segmentFor(record.length, seq);
    try {
      segment.append(record, seq);
    } catch (error) {
      if (error instanceof WalFullError) this.#volumeFullAt = performance.now();
      throw error;
    }
    this.#volumeFullAt = undefined;
    this.#bytes += record.length;
    this.#lastSeq = seq;
    if (!segment.unsynced) {
      segment.unsynced = true;
      this.#unsynced.push(segment);
    }
    this.#commit.written(seq);
    return { sidecar: this.sidecarId, seq };
  }

  /** The active segment, after starting a new one when the record would take the current one past segmentBytes. */
  #segmentFor(recordLength: number, seq: number): Segment {
    const active = this.#active;
    if (
      active !== undefined &&
      (active.size === 0 || active.size + recordLength <= this.#options.segmentBytes)
    )
      return active;
    if (active !== undefined) this.#retire(active);
    let segment: Segment;
    try {
      segment = Segment.create(this.#options.dir, Math.max(seq, this.#highestSegmentName + 1));
    } catch (error) {
      if (error instanceof WalFullError) this.#volumeFullAt = performance.now();
      throw error;
    }
    this.#highestSegmentName = Math.max(seq, this.#highestSegmentName + 1);
    this.#directoryUnsynced = true;
    this.#segments.push(segment);
    this.#active = segment;
    return segment;
  }

  /**
   * Stops appending to a segment. Its descriptor stays open until a sync has made its tail durable (the
   * sync closes it), or, when it is already durable, until no running sync uses it.
   */
  #retire(segment: Segment): void {
    this.#active = undefined;
    if (segment.unsynced) return;
    if (this.#commit.syncing) this.#closeAfterSync.push(segment);
    else segment.closeFile();
  }

  async #sync(): Promise<void> {
    const segments = this.#unsynced.filter((segment) => !segment.deleted && segment.fd !== undefined);
    this.#unsynced = [];
    for (const segment of segments) segment.unsynced = false;
    const directory = this.#directoryUnsynced;
    this.#directoryUnsynced = false;
    try {
      await Promise.all([
        ...segments.map((segment) => fdatasyncAsync(segment.fd!)),
        ...(directory ? [fsyncAsync(this.#directoryFd)] : []),
      ]);
    } catch (error) {
      throw new WalIoError(`WAL fsync failed: ${systemErrorCode(error) ?? String(error)}`, { cause: error });
    } finally {
      this.#closeIdleDescriptors(segments);
    }
  }

  /** Closes descriptors no one needs any more: closed segments now synced, deleted segments. */
  #closeIdleDescriptors(synced: readonly Segment[]): void {
    for (const segment of synced) if (segment !== this.#active && !segment.unsynced) segment.closeFile();
    for (const segment of this.#closeAfterSync) segment.closeFile();
    this.#closeAfterSync = [];
  }

  #onDurable(throughSeq: number, durationMs: number): void {
    if (this.#recordWaiters.length > 0) {
      const ready = this.#recordWaiters.filter((waiter) => waiter.afterSeq < throughSeq);
      this.#recordWaiters = this.#recordWaiters.filter((waiter) => waiter.afterSeq >= throughSeq);
      for (const waiter of ready) waiter.resolve();
    }
    try {
      this.#options.onSync?.({ throughSeq, durationMs });
    } catch (error) {
      this.#options.log.warn({ err: error }, 'WAL onSync hook threw');
    }
  }

  async #acknowledge(requested: number): Promise<void> {
    this.#assertOpen();
    if (!Number.isSafeInteger(requested) || requested < 0)
      throw new WalArgumentError(`invalid WAL acknowledgement ${requested}`);
    // The collector can only hold what we shipped, and we ship only durable records.
    const throughSeq = Math.min(requested, this.#commit.durableSeq);
    if (throughSeq < requested)
      this.#options.log.warn(
        { requested, durableSeq: this.#commit.durableSeq },
        'WAL acknowledgement beyond the durable records; clamped',
      );
    if (throughSeq <= this.#ackedSeq) return;
    await this.#ackCursor.save(throughSeq);
    this.#ackedSeq = Math.max(this.#ackedSeq, throughSeq);
    const deleted: Segment[] = [];
    while (this.#segments.length > 0) {
      const segment = this.#segments[0]!;
      if (segment.index.count === 0 || segment.index.lastSeq > throughSeq) break;
      this.#segments.shift();
      deleted.push(segment);
      this.#bytes -= segment.size;
      segment.deleted = true;
      if (segment === this.#active) this.#active = undefined;
      if (this.#commit.syncing) this.#closeAfterSync.push(segment);
      else segment.closeFile();
    }
    if (deleted.length === 0) return;
    this.#volumeFullAt = undefined;
    const failures = await Promise.allSettled(deleted.map((segment) => unlink(segment.path)));
    for (const [i, result] of failures.entries())
      if (result.status === 'rejected')
        // Harmless: recovery deletes segments at or below the cursor.
        this.#options.log.warn(
          { segment: deleted[i]!.path, err: result.reason },
          'could not delete an acknowledged WAL segment',
        );
    await fsyncAsync(this.#directoryFd).catch((error: unknown) =>
      this.#options.log.warn({ err: error }, 'could not fsync the WAL directory after deleting segments'),
    );
  }

  #recordLost(range: LostRange): void {
    this.#options.log.error({ ...range }, 'WAL record lost');
    this.#lost = withLostRange(this.#lost, range);
    this.#lostFile
      .save(formatLostRanges(this.#lost))
      .catch((error: unknown) =>
        this.#options.log.error({ err: error }, 'could not persist the WAL lost ranges'),
      );
  }

  #rejectRecordWaiters(error: Error): void {
    const waiters = this.#recordWaiters;
    this.#recordWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new WalClosedError('the WAL is closed');
  }

  async #close(): Promise<void> {
    this.#rejectRecordWaiters(new WalClosedError('the WAL is closed'));
    await this.#commit.close().catch(() => undefined); // a failure was already logged and reported to waiters
    await this.#acknowledging;
    await Promise.all([this.#ackCursor.settled(), this.#lostFile.settled()]);
    this.#ackCursor.close();
    for (const segment of [...this.#segments, ...this.#closeAfterSync]) segment.closeFile();
    this.#closeAfterSync = [];
    const active = this.#active;
    if (active !== undefined && active.size === 0) {
      // An active segment nothing was written to (every append was refused) is not worth keeping.
      try {
        unlinkSync(active.path);
      } catch {
        // Recovery deletes empty segments.
      }
    }
    this.#active = undefined;
    try {
      closeSync(this.#directoryFd);
    } catch {
      // Nothing to lose: the directory was only ever fsynced through it.
    }
  }
}
