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

function draft(n: number, extra: Partial<AuditEventDraft> = {}): AuditEventDraft {
  return {
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
  };
}

/**
 * A real WAL holding `drafts` and the real shipper draining it to `target`, until everything is
 * acknowledged and every lost range reported (a heartbeat clears it from the WAL). Returns the sidecar id.
 */
async function shipThrough(target: CollectorUnderTest, drafts: readonly AuditEventDraft[]): Promise<string> {
  const dir = mkdtempSync(join(inject('scratchDir'), 'poison-wal-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, token);
  const log = pino({ level: 'silent' });
  const wal = await WriteAheadLog.open({ dir: join(dir, 'wal'), syncIntervalMs: 5, log });
  const shipper = new AuditShipper({
    wal,
    collectorUrl: target.url,
    tokenFile,
    server: () => ({ namespace, name: 'docs' }),
    serving: () => ({}),
    metrics: createAuditShippingMetrics(new Registry()),
    log,
    clock: Date.now,
    heartbeatIntervalMs: 60_000,
  });
  for (const d of drafts) await wal.appendStrict(d);
  shipper.start();
  try {
    await eventually(
      async () => ({ acked: wal.ackedSeq, lost: wal.lost.length }),
      (state) => state.acked === drafts.length && state.lost === 0,
      30_000,
    );
    expect({ acked: wal.ackedSeq, lost: wal.lost }).toEqual({ acked: drafts.length, lost: [] });
  } finally {
    await shipper.stop();
    await wal.close();
  }
  return wal.sidecarId;
}

/** The gaps the collector holds for `sidecar`, read from its own database file. */
async function gapsOf(target: CollectorUnderTest, sidecar: string) {
  const store = await SqliteAuditStore.open({ path: target.sqlitePath });
  try {
    return (await store.gaps(new Date(Date.now() + 3_600_000))).filter((gap) => gap.sidecar === sidecar);
  } finally {
    await store.close();
  }
}

describe("the sidecar's shipper and events the collector can never store", () => {
  it('records the poison seq as lost, reports it as a gap, and ships everything behind it', async () => {
    let deep: unknown = [];
    for (let i = 0; i < 1_000; i++) deep = [deep];
    const drafts = [1, 2, 3, 4, 5].map((n) => draft(n, n === 3 ? { arguments: deep } : {}));
    const sidecar = await shipThrough(collector, drafts);
    expect(seqsOf(await storedEvents(collector.url, namespace), sidecar)).toEqual([1, 2, 4, 5]);
    // The hole itself, and the sidecar's report of why: refused for good as unstorable.
    expect(await gapsOf(collector, sidecar)).toEqual([
      expect.objectContaining({
        fromSeq: 3,
        toSeq: 3,
        kind: 'lost',
        reason: expect.stringContaining('unstorable_event'),
      }),
      { sidecar, fromSeq: 3, toSeq: 3, kind: 'missing' },
    ]);
  });

  it('splits a batch the collector finds too large (413), and gives up only on a single event that large', async () => {
    const small = await startCollector({
      mode: 'child',
      flags: { 'query-auth': 'none', 'max-batch-bytes': '8192' },
    });
    try {
      // Twenty events of ~0.5 KB: one batch of ~10 KB is refused, its halves are not. Seq 21 alone is
      // larger than the collector takes.
      const drafts = Array.from({ length: 21 }, (_, i) =>
        draft(i + 1, i === 20 ? { arguments: { blob: 'x'.repeat(9_000) } } : {}),
      );
      const sidecar = await shipThrough(small, drafts);
      const expected = Array.from({ length: 20 }, (_, i) => i + 1);
      expect(seqsOf(await storedEvents(small.url, namespace), sidecar)).toEqual(expected);
      expect(await gapsOf(small, sidecar)).toEqual([
        expect.objectContaining({
          fromSeq: 21,
          toSeq: 21,
          kind: 'lost',
          reason: expect.stringContaining('413'),
        }),
      ]);
    } finally {
      await small.stop();
    }
  });
});
