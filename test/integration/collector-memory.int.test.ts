import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { INGEST_PATH, SIDECAR_HEADER } from '../../api/audit/v1/ingest.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';

/**
 * The collector under a real memory ceiling (issue 16): run with the Helm chart's NODE_OPTIONS for it
 * (heap and young generation capped, charts/portcullis/values.yaml) and held to the chart's memory limit
 * (peak RSS below it: above, a pod is OOM-killed), at once: concurrent 8 MiB batches of large events, slow uploads, and large queries. Before the in-flight
 * byte budget and the query byte cap, 12 concurrent batches took it to 507 MiB, slow uploads to 1.5 GiB
 * and one query to 2.8 GiB. It must stay up, refuse what does not fit with a retryable 429 (never 5xx
 * from running out), and lose nothing it acknowledged. Every loop is bounded in count and in time.
 */
const values = parse(
  readFileSync(new URL('../../charts/portcullis/values.yaml', import.meta.url), 'utf8'),
) as {
  collector: { resources: { limits: { memory: string } }; nodeOptions: string };
};
/** The chart's NODE_OPTIONS for the collector: the heap and young generation it runs with in a pod. */
const NODE_OPTIONS = values.collector.nodeOptions.split(' ').filter(Boolean);
const LIMIT_MIB = Number(/^(\d+)Mi$/.exec(values.collector.resources.limits.memory)?.[1]);

const SENDERS = 12;
const BATCHES_PER_SENDER = 2;
const EVENTS_PER_BATCH = 500;
const PADDING = 15_000; // ~8 MB a batch: just under --max-batch-bytes
const SLOW_UPLOADS = 30;
const QUERY_LOOPS = 6;
const QUERIES_PER_LOOP = 10;
const MAX_ATTEMPTS = 400;
const DEADLINE_MS = 240_000;

let collector: CollectorUnderTest;
let namespace: string;
let token: string;

beforeAll(async () => {
  expect(LIMIT_MIB).toBeGreaterThan(0);
  const admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-memory');
  token = await sidecarToken(admin, namespace, 'docs');
  collector = await startCollector({
    mode: 'child',
    flags: { 'query-auth': 'none' },
    nodeArgs: NODE_OPTIONS,
  });
});

afterAll(async () => {
  await collector?.stop();
});

/** A shipper's loop: the same batch until acknowledged, after Retry-After on 429/503. */
async function ship(
  events: AuditEvent[],
  deadline: number,
): Promise<{ attempts: number; statuses: Set<number> }> {
  const statuses = new Set<number>();
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && Date.now() < deadline; attempt++) {
    const result = await postBatch(collector.url, token, events).catch(() => ({
      status: 0,
      body: undefined,
    }));
    statuses.add(result.status);
    if (result.status === 200) return { attempts: attempt, statuses };
    // 0: the connection closed under an upload refused before its body was read (429, Connection: close);
    // the shipper takes it as unavailable and retries, as it does 429 and 503.
    if (![0, 429, 503].includes(result.status)) throw new Error(`refused: ${JSON.stringify(result)}`);
    await sleep(200);
  }
  throw new Error(`not acknowledged within ${MAX_ATTEMPTS} attempts or ${DEADLINE_MS} ms`);
}

/** An 8 MiB upload trickled in 64 KiB pieces; resolves with the status once answered (or 0). */
function slowUpload(index: number): Promise<number> {
  const size = 8 * 1024 * 1024;
  const url = new URL(INGEST_PATH, collector.url);
  return new Promise((resolve) => {
    const req = httpRequest(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/x-ndjson',
        'content-length': size,
        [SIDECAR_HEADER]: `slow-${index}`,
      },
    });
    req.on('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', () => resolve(0));
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const timer = setInterval(() => {
      if (req.destroyed || sent >= size) {
        clearInterval(timer);
        if (!req.destroyed) req.end();
        return;
      }
      req.write(piece);
      sent += piece.length;
    }, 20);
  });
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

describe("the collector with the chart's NODE_OPTIONS, under the chart's memory limit", () => {
  it(
    'stays up under large concurrent batches, slow uploads and large queries, losing nothing acknowledged',
    async () => {
      const pid = collector.pid!;
      const before = peakRssMiB(pid);
      const deadline = Date.now() + DEADLINE_MS;
      const server = { namespace, name: 'docs' };
      const senders = Array.from({ length: SENDERS }, async (_, s) => {
        const sidecar = `mem-${s}`;
        let attempts = 0;
        for (let b = 0; b < BATCHES_PER_SENDER; b++) {
          const from = b * EVENTS_PER_BATCH + 1;
          const events = sidecarEvents(sidecar, from, from + EVENTS_PER_BATCH - 1, server).map((event) => ({
            ...event,
            arguments: { blob: 'x'.repeat(PADDING) },
          }));
          attempts += (await ship(events, deadline)).attempts;
        }
        return attempts;
      });
      const slow = Array.from({ length: SLOW_UPLOADS }, (_, i) => slowUpload(i));
      const queries = Array.from({ length: QUERY_LOOPS }, async () => {
        const statuses: number[] = [];
        for (let q = 0; q < QUERIES_PER_LOOP && Date.now() < deadline; q++) {
          statuses.push((await getJson(collector.url, '/v1/events?limit=10000')).status);
          await sleep(100);
        }
        return statuses;
      });
      const [attempts, slowStatuses, queryStatuses] = await Promise.all([
        Promise.all(senders),
        Promise.all(slow),
        Promise.all(queries),
      ]);

      const peak = peakRssMiB(pid);
      console.info(
        `collector peak RSS ${peak.toFixed(0)} MiB (at start ${before.toFixed(0)} MiB; limit ${LIMIT_MIB} MiB; ${NODE_OPTIONS.join(' ')}); batch attempts ${attempts.join(',')}; ` +
          `slow uploads ${JSON.stringify(countOf(slowStatuses))}; queries ${JSON.stringify(countOf(queryStatuses.flat()))}`,
      );
      // Still the same process, still ready.
      expect(collector.pid).toBe(pid);
      expect((await fetch(`${collector.metricsUrl}/readyz`)).status).toBe(200);
      expect(peak).toBeLessThan(LIMIT_MIB);
      // Refusals are the retryable busy kind or a refused body, never a server failure.
      for (const status of [...slowStatuses, ...queryStatuses.flat()])
        expect([200, 400, 413, 429, 0]).toContain(status);
      // Nothing acknowledged is missing: every sender's events are stored contiguously from seq 1.
      const sidecars = (await getJson(collector.url, `/v1/sidecars?namespace=${namespace}`)).body as {
        sidecars: { sidecar: string; contiguousThrough: number }[];
      };
      for (let s = 0; s < SENDERS; s++) {
        expect(sidecars.sidecars.find((row) => row.sidecar === `mem-${s}`)).toMatchObject({
          contiguousThrough: BATCHES_PER_SENDER * EVENTS_PER_BATCH,
        });
      }
    },
    DEADLINE_MS + 60_000,
  );
});

function countOf(statuses: readonly number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}
