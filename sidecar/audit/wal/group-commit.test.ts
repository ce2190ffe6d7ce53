import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalIoError } from './errors.ts';
import { GroupCommit } from './group-commit.ts';
import type { WalSync } from './options.ts';
import { draft, temporaryDirectory } from './test-support.ts';
import { WriteAheadLog } from './write-ahead-log.ts';

/** A GroupCommit whose syncs the test finishes by hand, to pin down what each sync covers. */
function controlledCommit(intervalMs = 1000) {
  const syncs: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const durable: number[] = [];
  const failures: WalIoError[] = [];
  const commit = new GroupCommit(
    {
      intervalMs,
      sync: () =>
        new Promise<void>((resolve, reject) => {
          syncs.push({ resolve, reject });
        }),
      onDurable: (seq) => durable.push(seq),
      onFailure: (error) => failures.push(error),
    },
    0,
  );
  return { commit, syncs, durable, failures };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('resolves a strict waiter only with a sync that started after its write', async () => {
    const { commit, syncs } = controlledCommit();
    commit.written(1);
    const first = commit.durable(1);
    await turn();
    expect(syncs).toHaveLength(1); // started at once, not after the interval

    commit.written(2); // while sync 1 runs: it cannot cover seq 2
    let secondDone = false;
    const second = commit.durable(2).then(() => (secondDone = true));
    syncs[0]!.resolve();
    await first;
    await turn();
    expect(secondDone).toBe(false);
    expect(commit.durableSeq).toBe(1);
    expect(syncs).toHaveLength(2); // the next sync starts as soon as the previous one ends
    syncs[1]!.resolve();
    await second;
    expect(commit.durableSeq).toBe(2);
  });

  it('lets concurrent strict waiters share one sync', async () => {
    const { commit, syncs } = controlledCommit();
    const waiters = [];
    for (let seq = 1; seq <= 50; seq++) {
      commit.written(seq);
      waiters.push(commit.durable(seq));
    }
    await turn();
    expect(syncs).toHaveLength(1);
    syncs[0]!.resolve();
    await Promise.all(waiters);
    expect(syncs).toHaveLength(1);
  });

  it('syncs batched writes within the interval, one sync per burst', async () => {
    const { commit, syncs, durable } = controlledCommit(20);
    for (let seq = 1; seq <= 100; seq++) commit.written(seq);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(syncs).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(syncs).toHaveLength(1);
    syncs[0]!.resolve();
    await turn();
    expect(durable).toEqual([100]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(syncs).toHaveLength(1); // nothing new written, nothing synced
  });

  it('treats a failed sync as final: every waiter, present and future, is rejected and nothing retries', async () => {
    const { commit, syncs, failures } = controlledCommit();
    commit.written(1);
    const first = commit.durable(1);
    await turn();
    commit.written(2);
    const second = commit.durable(2);
    syncs[0]!.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(first).rejects.toBeInstanceOf(WalIoError);
    await expect(second).rejects.toBeInstanceOf(WalIoError);
    await expect(commit.durable(3)).rejects.toMatchObject({ code: 'wal_io' });
    expect(failures).toHaveLength(1);
    expect(commit.failure).toBeInstanceOf(WalIoError);
    await turn();
    expect(syncs).toHaveLength(1);
    expect(commit.durableSeq).toBe(0);
  });

  it('makes everything written durable on close', async () => {
    const { commit, syncs } = controlledCommit(10_000);
    commit.written(1);
    const closing = commit.close();
    await turn();
    expect(syncs).toHaveLength(1);
    syncs[0]!.resolve();
    await closing;
    expect(commit.durableSeq).toBe(1);
  });
});

describe('WriteAheadLog group commit (real fsyncs)', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = temporaryDirectory()));
  afterEach(() => cleanup());

  it('resolves appendStrict only after an fsync that covers it', async () => {
    const syncs: WalSync[] = [];
    const wal = await WriteAheadLog.open({ dir, syncIntervalMs: 10_000, onSync: (sync) => syncs.push(sync) });
    for (let i = 1; i <= 20; i++) {
      const event = await wal.appendStrict(draft(i));
      expect(syncs.at(-1)!.throughSeq).toBeGreaterThanOrEqual(event.seq);
      expect(wal.durableSeq).toBeGreaterThanOrEqual(event.seq);
    }
    expect(syncs).toHaveLength(20);
    await wal.close();
  });

  it('shares fsyncs among 64 concurrent strict appends', async () => {
    const syncs: WalSync[] = [];
    const wal = await WriteAheadLog.open({ dir, syncIntervalMs: 10_000, onSync: (sync) => syncs.push(sync) });
    const events = await Promise.all(Array.from({ length: 64 }, (_, i) => wal.appendStrict(draft(i + 1))));
    expect(events.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 64 }, (_, i) => i + 1),
    );
    expect(syncs).toHaveLength(1);
    expect(syncs[0]!.throughSeq).toBe(64);
    await wal.close();
  });

  it('fsyncs batched appends within the sync interval, a burst with one fsync', async () => {
    const syncs: WalSync[] = [];
    const wal = await WriteAheadLog.open({ dir, syncIntervalMs: 5, onSync: (sync) => syncs.push(sync) });
    const started = performance.now();
    for (let i = 1; i <= 1000; i++) wal.appendBatched(draft(i));
    await wal.waitForRecords(999);
    expect(performance.now() - started).toBeLessThan(500); // 5 ms plus an fsync, with slack for a busy CI
    expect(syncs).toHaveLength(1);
    expect(wal.durableSeq).toBe(1000);
    await wal.close();
  });
});
