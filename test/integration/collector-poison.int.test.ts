import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditEvent, AuditEventDraft } from '../../api/audit/v1/event.ts';
import { SqliteAuditStore } from '../../collector/store/sqlite.ts';
import { MAX_AUDIT_EVENT_DEPTH } from '../../lib/json-limits.ts';
import { AuditShipper } from '../../sidecar/audit/shipper.ts';
import { createAuditShippingMetrics } from '../../sidecar/audit/shipper-metrics.ts';
import { WriteAheadLog } from '../../sidecar/audit/wal/write-ahead-log.ts';
import { eventually } from '../harness/eventually.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  storedEvents,
  type CollectorUnderTest,
} from '../harness/collector.ts';

/**
 * Poison events (issue 16): an event no store can keep must be refused for good, naming its seq, so the
 * shipper records it as lost and the rest of its WAL flows. Before, an event nested thousands of levels
 * deep made the store's JSON.stringify throw, answered as a retryable 503: the shipper retried forever.
 */
let admin: KubeConfig;
let namespace: string;
let collector: CollectorUnderTest;
let token: string;

/** An event line whose `arguments` (or another member) nests `depth` arrays: depth + 1 levels in all. */
function nestedLine(event: AuditEvent, depth: number, member = 'arguments'): string {
  const text = JSON.stringify(event);
  return `${text.slice(0, -1)},"${member}":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

const seqsOf = (events: readonly AuditEvent[], sidecar: string) =>
  events.filter((e) => e.sidecar === sidecar).map((e) => e.seq);

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-poison');
  collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
  token = await sidecarToken(admin, namespace, 'docs');
});

afterAll(async () => {
  await collector?.stop();
});

describe('an event deeper than the shared bound', () => {
  const server = () => ({ namespace, name: 'docs' });

  it.each(['arguments', 'fromTheFuture'])(
    'nested 5,000 levels in %s: refused for good (422 unstorable_event naming its seq), nothing stored',
    async (member) => {
      const sidecar = `deep-${member}`;
      const [first, poison, last] = sidecarEvents(sidecar, 1, 3, server());
      const lines = [JSON.stringify(first), nestedLine(poison!, 5_000, member), JSON.stringify(last)];
      const result = await postBatch(collector.url, token, [first], { body: lines.join('\n') + '\n' });
      expect(result).toEqual({
        status: 422,
        body: { error: { code: 'unstorable_event', message: expect.stringContaining('line 2'), seq: 2 } },
      });
      expect(seqsOf(await storedEvents(collector.url, namespace), sidecar)).toEqual([]);
      // The collector still takes the rest.
      expect((await postBatch(collector.url, token, [first!, last!])).status).toBe(200);
    },
  );

  it('takes an event exactly at the bound and refuses one level more', async () => {
    const sidecar = 'at-the-bound';
    const [atBound, beyond] = sidecarEvents(sidecar, 1, 2, server());
    // The event object is one level; the arguments the rest.
    const deepest = nestedLine(atBound!, MAX_AUDIT_EVENT_DEPTH - 1);
    expect((await postBatch(collector.url, token, [], { sidecar, body: deepest })).status).toBe(200);
    const tooDeep = nestedLine(beyond!, MAX_AUDIT_EVENT_DEPTH);
    const refused = await postBatch(collector.url, token, [], { sidecar, body: tooDeep });
    expect(refused.body).toMatchObject({ error: { code: 'unstorable_event', seq: 2 } });
    const stored = (await storedEvents(collector.url, namespace)).filter((e) => e.sidecar === sidecar);
    expect(stored.map((e) => e.seq)).toEqual([1]);
    expect(JSON.stringify(stored[0]!.arguments)).toBe(
      '['.repeat(MAX_AUDIT_EVENT_DEPTH - 1) + ']'.repeat(MAX_AUDIT_EVENT_DEPTH - 1),
    );
  });
});

describe('event times out of bounds', () => {
  it.each([
    ['dated 2099', '2099-01-01T00:00:00.000Z', /ahead of the collector's clock/],
    ['older than the retention period', '2000-01-01T00:00:00.000Z', /older than the retention period/],
  ])('refuses an event %s for good, naming its seq', async (_name, time, message) => {
    const sidecar = `time-${time.slice(0, 4)}`;
    const [first, second] = sidecarEvents(sidecar, 1, 2, { namespace, name: 'docs' });
    const result = await postBatch(collector.url, token, [first!, { ...second!, time }]);
    expect(result).toEqual({
      status: 422,
      body: { error: { code: 'unstorable_event', message: expect.stringMatching(message), seq: 2 } },
    });
    expect(seqsOf(await storedEvents(collector.url, namespace), sidecar)).toEqual([]);
  });
});

describe("the sidecar's shipper and a poison event in its WAL", () => {
  it('records the poison seq as lost, reports it as a gap, and ships everything behind it', async () => {
    const dir = mkdtempSync(join(inject('scratchDir'), 'poison-wal-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, token);
    const log = pino({ level: 'silent' });
    const wal = await WriteAheadLog.open({ dir: join(dir, 'wal'), syncIntervalMs: 5, log });
    const shipper = new AuditShipper({
      wal,
      collectorUrl: collector.url,
      tokenFile,
      server: () => ({ namespace, name: 'docs' }),
      serving: () => ({}),
      metrics: createAuditShippingMetrics(new Registry()),
      log,
      clock: Date.now,
      heartbeatIntervalMs: 60_000,
    });
    const draft = (n: number, extra: Partial<AuditEventDraft> = {}): AuditEventDraft => ({
      schema: 'portcullis.dev/audit/v1',
      id: randomUUID(),
      kind: 'call',
      time: new Date().toISOString(),
      requestId: `req-${n}`,
      server: { namespace, name: 'docs' },
      method: 'tools/call',
      tool: 'search',
      decision: 'allowed',
      latencyMs: 1,
      ...extra,
    });
    let deep: unknown = [];
    for (let i = 0; i < 1_000; i++) deep = [deep];
    for (let n = 1; n <= 5; n++) await wal.appendStrict(draft(n, n === 3 ? { arguments: deep } : {}));
    shipper.start();
    try {
      // The lost range is cleared from the WAL once a heartbeat reported it to the collector.
      await eventually(
        async () => ({ acked: wal.ackedSeq, lost: wal.lost.length }),
        (state) => state.acked === 5 && state.lost === 0,
        30_000,
      );
      expect({ acked: wal.ackedSeq, lost: wal.lost }).toEqual({ acked: 5, lost: [] });
    } finally {
      await shipper.stop();
      await wal.close();
    }
    const stored = seqsOf(await storedEvents(collector.url, namespace), wal.sidecarId);
    expect(stored).toEqual([1, 2, 4, 5]);
    // The collector holds the loss as evidence: a `lost` gap, read from its own database file.
    const store = await SqliteAuditStore.open({ path: collector.sqlitePath });
    try {
      const gaps = await store.gaps(new Date(Date.now() + 3_600_000));
      // The hole itself, and the sidecar's report of why: refused for good as unstorable.
      expect(gaps.filter((gap) => gap.sidecar === wal.sidecarId)).toEqual([
        expect.objectContaining({
          fromSeq: 3,
          toSeq: 3,
          kind: 'lost',
          reason: expect.stringContaining('unstorable_event'),
        }),
        { sidecar: wal.sidecarId, fromSeq: 3, toSeq: 3, kind: 'missing' },
      ]);
    } finally {
      await store.close();
    }
  });
});
