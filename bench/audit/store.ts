/**
 * Audit store ingest throughput: batches of 500 events (~700 bytes of JSON each, one sidecar per batch as
 * the wire protocol sends them), each awaited as the ingest handler awaits the commit before acking; by one
 * shipper, then by 20 at once. Prints JSON { sqlite: { shippers1: { eventsPerSecond, ... }, shippers20 },
 * postgres: { ... } }.
 *
 * Run: node bench/audit/store.ts [sqlite|postgres|both] [events]   (default both, 200000)
 * SQLite writes a file in a temporary directory, synchronous=FULL (every batch fsynced). PostgreSQL runs on
 * a private server from test/harness/postgres.ts (fsync on), one store, one connection busy at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { PostgresAuditStore } from '../../collector/store/postgres.ts';
import { SqliteAuditStore } from '../../collector/store/sqlite.ts';
import type { AuditStore } from '../../collector/store/store.ts';
import { testEvent } from '../../collector/store/test-events.ts';
import { startPostgres } from '../../test/harness/postgres.ts';

const BATCH = 500;
const SIDECARS = 20;
const which = process.argv[2] ?? 'both';
const total = Number(process.argv[3] ?? 200_000);

/** Batches of one sidecar each, round-robin over the sidecars, seqs ascending per sidecar. */
function batches(): AuditEvent[][] {
  const out: AuditEvent[][] = [];
  const next = new Array<number>(SIDECARS).fill(1);
  for (let n = 0; n < total / BATCH; n++) {
    const sc = n % SIDECARS;
    const batch: AuditEvent[] = [];
    for (let i = 0; i < BATCH; i++) {
      const seq = next[sc]!++;
      batch.push(
        testEvent(`bench-sidecar-${sc}`, seq, {
          time: new Date(Date.UTC(2026, 0, 1) + n * BATCH + i).toISOString(),
          user: `user-${seq % 97}@example.com`,
          tool: `tool-${seq % 13}`,
          sessionId: `session-${seq % 31}`,
          argumentsDigest: `sha256:${'ab'.repeat(32)}`,
          toolDigest: `sha256:${'cd'.repeat(32)}`,
          outcome: 'ok',
          clientInfo: { name: 'bench-client', version: '1.2.3' },
        }),
      );
    }
    out.push(batch);
  }
  return out;
}

/**
 * Inserts every batch, `shippers` at a time: each shipper owns whole sidecars and sends its next batch
 * once the previous one is acknowledged, as sidecar shippers do. 1 shipper: batches strictly one after
 * another. 20: concurrent uploads, which the SQLite store commits in groups.
 */
async function measure(
  store: AuditStore,
  work: AuditEvent[][],
  shippers: number,
): Promise<Record<string, number>> {
  // Warm-up outside the timing: statement preparation, the first pages of each index.
  await store.insert(work[0]!);
  const queues = Array.from({ length: shippers }, () => [] as AuditEvent[][]);
  work.slice(1).forEach((batch, n) => queues[((n + 1) % SIDECARS) % shippers]!.push(batch));
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    queues.map(async (queue) => {
      for (const batch of queue) await store.insert(batch);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const events = (work.length - 1) * BATCH;
  return {
    eventsPerSecond: Math.round(events / seconds),
    // This process only (for PostgreSQL the server's work is elsewhere); on a busy machine the wall
    // clock also counts other processes' turns, CPU time does not.
    eventsPerCpuSecond: Math.round(events / ((cpu.user + cpu.system) / 1e6)),
    events,
    shippers,
  };
}

const work = batches();
const bytes =
  work.flat().reduce((sum, event) => sum + JSON.stringify(event).length, 0) / (work.length * BATCH);
const results: Record<string, unknown> = { meanEventBytes: Math.round(bytes) };

const SHIPPERS = [1, SIDECARS];

if (which === 'sqlite' || which === 'both') {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-store-'));
  try {
    const runs: Record<string, unknown> = {};
    for (const shippers of SHIPPERS) {
      const path = join(dir, `audit-${shippers}.db`);
      const store = await SqliteAuditStore.open({ path, exporters: ['otlp'] });
      runs[`shippers${shippers}`] = await measure(store, work, shippers);
      await store.close();
    }
    results.sqlite = { ...runs, synchronous: 'FULL' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (which === 'postgres' || which === 'both') {
  const server = await startPostgres();
  try {
    const runs: Record<string, unknown> = {};
    for (const shippers of SHIPPERS) {
      const connectionString = await server.createDatabase(`bench_${shippers}`);
      const store = await PostgresAuditStore.open({ connectionString, exporters: ['otlp'] });
      runs[`shippers${shippers}`] = await measure(store, work, shippers);
      await store.close();
    }
    results.postgres = runs;
  } finally {
    await server.stop();
  }
}
console.log(JSON.stringify(results, null, 2));
