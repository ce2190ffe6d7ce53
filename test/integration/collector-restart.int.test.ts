import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  type WireResult,
  sidecarEvents,
} from '../harness/collector.ts';

/**
 * The collector as a pod runs it (`node cli/main.ts collector`, its own ServiceAccount's kubeconfig):
 * graceful restarts and SIGKILL on the same port and SQLite file keep every acknowledged event, and a
 * SIGTERM while batches are in flight answers each one truthfully (acknowledged means stored).
 */
let admin: KubeConfig;
let namespace: string;
let token: string;
let collector: CollectorUnderTest;

const batch = (sidecar: string, from: number, to: number): AuditEvent[] =>
  sidecarEvents(sidecar, from, to, { namespace, name: 'docs' });

async function storedSeqs(sidecar: string): Promise<number[]> {
  const page = await getJson(collector.url, `/v1/events?order=asc&limit=10000`);
  return (page.body as { events: AuditEvent[] }).events
    .filter((e) => e.sidecar === sidecar)
    .map((e) => e.seq);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-restart');
  token = await sidecarToken(admin, namespace, 'docs');
  collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none', export: 'stdout' } });
}, 60_000);

afterAll(async () => {
  await collector?.stop();
});

describe('collector restarts (child process)', () => {
  it('keeps every acknowledged event across a graceful restart, on the same address', async () => {
    const first = batch('rs-a', 1, 100);
    expect((await postBatch(collector.url, token, first)).body).toEqual({
      accepted: 100,
      duplicates: 0,
      throughSeq: 100,
    });
    await collector.restart();
    expect(await storedSeqs('rs-a')).toEqual(range(1, 100));
    // A shipper that never saw the ack retries: duplicates, acknowledged, not stored twice.
    expect((await postBatch(collector.url, token, first)).body).toEqual({
      accepted: 0,
      duplicates: 100,
      throughSeq: 100,
    });
    expect((await postBatch(collector.url, token, batch('rs-a', 101, 150))).body).toMatchObject({
      accepted: 50,
    });
  }, 60_000);

  it('keeps every acknowledged event across SIGKILL', async () => {
    expect((await postBatch(collector.url, token, batch('rs-b', 1, 500))).status).toBe(200);
    await collector.kill();
    await collector.start();
    expect(await storedSeqs('rs-b')).toEqual(range(1, 500));
  }, 60_000);

  it('answers batches in flight at SIGTERM truthfully: every acknowledged batch is stored', async () => {
    const batches = range(0, 19).map((i) => batch('rs-c', i * 200 + 1, i * 200 + 200));
    const results: (WireResult | Error)[] = [];
    const sending = Promise.all(
      batches.map((events, i) =>
        postBatch(collector.url, token, events).then(
          (result) => (results[i] = result),
          (error: Error) => (results[i] = error),
        ),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await collector.stop();
    await sending;
    await collector.start();
    const stored = new Set(await storedSeqs('rs-c'));
    const acked = batches.filter((_, i) => (results[i] as WireResult).status === 200);
    for (const events of acked) expect(events.every((e) => stored.has(e.seq))).toBe(true);
    // Refused ones were answered with a retryable error or not at all, never with a 4xx.
    for (const result of results) {
      if (!(result instanceof Error)) expect([200, 503]).toContain(result.status);
    }
  }, 60_000);

  it('writes events to stdout (the stdout exporter) and its logs elsewhere', async () => {
    const events = batch('rs-d', 1, 5);
    await postBatch(collector.url, token, events);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !events.every((e) => collector.exported().some((x) => x.id === e.id))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const exported = collector.exported();
    for (const event of events) expect(exported).toContainEqual(event);
    expect(exported.every((line) => line.schema === 'portcullis.dev/audit/v1')).toBe(true);
  });
});
