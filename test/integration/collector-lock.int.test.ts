import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  storedEvents,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';

/**
 * A blocking store must not block everything (issue 16). Another process (this test) holds the SQLite
 * write lock on the collector's database file; a batch then waits for it. Before, node:sqlite's busy
 * handler slept on the collector's event loop for the whole wait: queries, heartbeats and /metrics
 * waited behind it. Now the wait is asynchronous: while the batch is still waiting, a query and
 * /metrics are answered; once the lock is released the batch is stored and acknowledged.
 * Ordering and liveness only: nothing here depends on how long anything takes.
 */
let collector: CollectorUnderTest;
let namespace: string;
let token: string;

beforeAll(async () => {
  const admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-lock');
  token = await sidecarToken(admin, namespace, 'docs');
  collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
});

afterAll(async () => {
  await collector?.stop();
});

async function lockWaits(): Promise<number> {
  const text = await (await fetch(`${collector.metricsUrl}/metrics`)).text();
  return sampleValue(parseSamples(text), 'portcullis_collector_store_lock_waits_total', {}) ?? 0;
}

describe('ingest waiting on a lock held by another process', () => {
  it('leaves queries and metrics answered, and stores the batch once the lock is released', async () => {
    const server = { namespace, name: 'docs' };
    expect((await postBatch(collector.url, token, sidecarEvents('lock-a', 1, 2, server))).status).toBe(200);

    const other = new DatabaseSync(collector.sqlitePath);
    other.exec('BEGIN IMMEDIATE');
    const order: string[] = [];
    let ingest: Promise<number> | undefined;
    try {
      ingest = postBatch(collector.url, token, sidecarEvents('lock-a', 3, 4, server)).then((result) => {
        order.push('ingest answered');
        return result.status;
      });
      // The collector says, over its metrics endpoint, that the batch is waiting for the lock.
      const waits = await eventually(lockWaits, (count) => count > 0);
      expect(waits).toBeGreaterThan(0);
      const query = await getJson(collector.url, `/v1/events?namespace=${namespace}&order=asc`);
      order.push('query answered');
      expect(query.status).toBe(200);
      expect((query.body as { events: { seq: number }[] }).events.map((e) => e.seq)).toEqual([1, 2]);
      expect(order).toEqual(['query answered']);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(await ingest).toBe(200);
    expect(order).toEqual(['query answered', 'ingest answered']);
    expect((await storedEvents(collector.url, namespace)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });
});
