import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditShipper } from './shipper.ts';
import { createAuditShippingMetrics } from './shipper-metrics.ts';
import { draft, temporaryDirectory } from './wal/test-support.ts';
import { WriteAheadLog } from './wal/write-ahead-log.ts';

/**
 * The shipper's linger against a real WAL and a minimal collector on loopback that records each batch (its
 * seqs and when it arrived) and acknowledges it as the real one does.
 */
interface Batch {
  readonly seqs: number[];
  readonly at: number;
}

let dir: string;
let cleanup: () => void;
let collector: Server;
let collectorUrl: string;
let batches: Batch[];
const stopAfter: (() => Promise<void>)[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = temporaryDirectory());
  batches = [];
  collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/heartbeat') return void response.writeHead(204).end();
      const seqs = Buffer.concat(chunks)
        .toString('utf8')
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { seq: number }).seq);
      batches.push({ seqs, at: performance.now() });
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ accepted: seqs.length, duplicates: 0, throughSeq: seqs.at(-1) }));
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const stop of stopAfter.splice(0)) await stop();
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  cleanup();
});

async function rig(lingerMs: number, maxBatchEvents = 500) {
  const wal = await WriteAheadLog.open({ dir: join(dir, 'wal'), syncIntervalMs: 2 });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'test-token\n');
  const shipper = new AuditShipper({
    wal,
    collectorUrl,
    tokenFile,
    server: () => ({ namespace: 'finance', name: 'billing' }),
    serving: () => ({}),
    metrics: createAuditShippingMetrics(new Registry()),
    log: pino({ level: 'silent' }),
    clock: Date.now,
    lingerMs,
    maxBatchEvents,
  });
  shipper.start();
  let stopped = false;
  const stop = async (drainMs = 0) => {
    if (stopped) return;
    stopped = true;
    await shipper.stop(drainMs);
    await wal.close();
  };
  stopAfter.push(stop);
  return { wal, stop };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const shipped = () => batches.flatMap((batch) => batch.seqs);

describe('AuditShipper linger', () => {
  it('gathers events written within the linger into one batch, shipped within about the linger', async () => {
    const { wal } = await rig(300);
    const first = performance.now();
    for (let n = 1; n <= 10; n++) {
      wal.appendBatched(draft(n));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => shipped().length === 10);
    expect(batches).toHaveLength(1);
    const delay = batches[0]!.at - first;
    expect(delay).toBeGreaterThanOrEqual(250);
    expect(delay).toBeLessThan(2_000);
  });

  it('without a linger, ships what is durable at once (several small batches)', async () => {
    const { wal } = await rig(0);
    for (let n = 1; n <= 10; n++) {
      wal.appendBatched(draft(n));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await until(() => shipped().length === 10);
    expect(batches.length).toBeGreaterThan(1);
  });

  it('sends a full batch at once, without waiting out the linger', async () => {
    const { wal } = await rig(5_000, 5);
    const started = performance.now();
    for (let n = 1; n <= 12; n++) wal.appendBatched(draft(n));
    await until(() => shipped().length >= 10, 3_000);
    expect(batches[0]!.seqs).toEqual([1, 2, 3, 4, 5]);
    expect(batches[1]!.seqs).toEqual([6, 7, 8, 9, 10]);
    expect(batches[1]!.at - started).toBeLessThan(2_000);
  });

  it('drains on stop without waiting out the linger, and loses nothing', async () => {
    const { wal, stop } = await rig(5_000);
    for (let n = 1; n <= 3; n++) wal.appendBatched(draft(n));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the shipper is lingering now
    expect(batches).toHaveLength(0);
    const started = performance.now();
    await stop(3_000);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(shipped()).toEqual([1, 2, 3]);
  });
});
