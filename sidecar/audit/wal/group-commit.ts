import { performance } from 'node:perf_hooks';
import { systemErrorCode, WalIoError } from './errors.ts';

/**
 * Decides when to fsync, and tells waiters when their records are durable.
 *
 * - Batched appends only note that they wrote: the first write after a sync arms a timer, so every batched
 *   record is fsynced within about one interval, and a burst shares one fsync.
 * - Strict appends wait for a sync that STARTS after their write; one is started at once (on the next turn
 *   of the event loop, so every strict append of the current burst shares it) unless one is running, in
 *   which case the next starts the moment it ends. That is group commit: N concurrent strict appends cost
 *   about two fsyncs, not N.
 *
 * A failed fsync is final (fsyncgate: the kernel may already have dropped the dirty pages, and a retry
 * would report success for data that is gone): every waiter is rejected and `failure` stays set.
 */
export interface GroupCommitOptions {
  readonly intervalMs: number;
  /** Makes every record written so far durable (fdatasync of the segments written, fsync of the directory). */
  readonly sync: () => Promise<void>;
  /** After each completed sync. */
  readonly onDurable: (throughSeq: number, durationMs: number) => void;
  readonly onFailure: (error: WalIoError) => void;
}

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class GroupCommit {
  readonly #options: GroupCommitOptions;
  #writtenSeq: number;
  #durableSeq: number;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #running: Promise<void> | undefined;
  /** Ascending by seq: appends register in seq order. */
  #waiters: Waiter[] = [];
  #failure: WalIoError | undefined;

  constructor(options: GroupCommitOptions, durableSeq: number) {
    this.#options = options;
    this.#writtenSeq = durableSeq;
    this.#durableSeq = durableSeq;
  }

  get durableSeq(): number {
    return this.#durableSeq;
  }

  get failure(): WalIoError | undefined {
    return this.#failure;
  }

  get syncing(): boolean {
    return this.#running !== undefined;
  }

  /** A record with this seq was written: make it durable within the interval. The append hot path. */
  written(seq: number): void {
    this.#writtenSeq = seq;
    if (this.#timer === undefined && this.#running === undefined && this.#immediate === undefined)
      this.#timer = setTimeout(this.#start, this.#options.intervalMs);
  }

  /** Resolves after a sync that started after seq was written; rejects with the sync's failure. */
  durable(seq: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (seq <= this.#durableSeq) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ seq, resolve, reject });
    if (this.#running === undefined && this.#immediate === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(this.#start);
    }
    return promise;
  }

  /** Stops the timers and makes everything written durable. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    while (this.#running !== undefined) await this.#running;
    if (this.#failure === undefined && this.#writtenSeq > this.#durableSeq) await this.#run();
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
  }

  readonly #start = (): void => {
    void this.#run();
  };

  async #run(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
    if (this.#failure !== undefined) return;
    const throughSeq = this.#writtenSeq;
    const startedAt = performance.now();
    const running = this.#options.sync();
    this.#running = running.then(
      () => undefined,
      () => undefined,
    );
    try {
      await running;
    } catch (error) {
      this.#fail(error);
      return;
    } finally {
      this.#running = undefined;
    }
    this.#durableSeq = Math.max(this.#durableSeq, throughSeq);
    let resolved = 0;
    while (resolved < this.#waiters.length && this.#waiters[resolved]!.seq <= throughSeq)
      this.#waiters[resolved++]!.resolve();
    this.#waiters.splice(0, resolved);
    this.#options.onDurable(throughSeq, performance.now() - startedAt);
    if (this.#waiters.length > 0) this.#immediate = setImmediate(this.#start);
    else if (this.#writtenSeq > this.#durableSeq)
      // Writes that arrived during this sync are at most one interval old when the next one starts.
      this.#timer = setTimeout(
        this.#start,
        Math.max(0, startedAt + this.#options.intervalMs - performance.now()),
      );
  }

  #fail(error: unknown): void {
    this.#failure =
      error instanceof WalIoError
        ? error
        : new WalIoError(`WAL fsync failed: ${systemErrorCode(error) ?? String(error)}`, { cause: error });
    for (const waiter of this.#waiters) waiter.reject(this.#failure);
    this.#waiters = [];
    this.#options.onFailure(this.#failure);
  }
}
