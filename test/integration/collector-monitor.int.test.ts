import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  postHeartbeat,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  sidecarEvents,
} from '../harness/collector.ts';
import { eventually } from '../harness/eventually.ts';
import { parseSamples, sampleValue, type Sample } from '../harness/prometheus-text.ts';

/**
 * Gaps and lag: a sequence hole that does not fill within the grace period, and a range the sidecar
 * reports lost, each become one warning (sidecar, server, seq range) and metrics; lag is the heartbeat's
 * lastSeq beyond what is stored. Short grace and interval here; the defaults are 10 s and 5 s.
 */
let admin: KubeConfig;
let namespace: string;
let collector: CollectorUnderTest;
let token: string;

const batch = (sidecar: string, from: number, to: number) =>
  sidecarEvents(sidecar, from, to, { namespace, name: 'docs' });

const metrics = async (): Promise<Sample[]> =>
  parseSamples(await (await fetch(`${collector.metricsUrl}/metrics`)).text());

const warnings = (message: RegExp) =>
  collector
    .logs()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['level'] === 40 && message.test(String(entry['msg'])));

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-monitor');
  collector = await startCollector({
    flags: { 'query-auth': 'none', 'gap-grace': '500ms', 'monitor-interval': '100ms' },
  });
  token = await sidecarToken(admin, namespace, 'docs');
});

afterAll(async () => {
  await collector?.stop();
});

describe('gap monitor', () => {
  it('reports a hole that does not fill within the grace period, once, and clears it when it fills', async () => {
    await postBatch(collector.url, token, batch('gap-a', 1, 3));
    await postBatch(collector.url, token, batch('gap-a', 7, 9));
    const labels = { namespace, server: 'docs' };
    const seen = await eventually(
      metrics,
      (s) => sampleValue(s, 'portcullis_collector_gap_events', labels) === 3,
      10_000,
    );
    expect(sampleValue(seen, 'portcullis_collector_gap_events', labels)).toBe(3);
    expect(sampleValue(seen, 'portcullis_collector_gaps_detected_total', { kind: 'missing' })).toBe(1);
    expect(warnings(/missing/)).toEqual([
      expect.objectContaining({
        sidecar: 'gap-a',
        namespace,
        server: 'docs',
        fromSeq: 4,
        toSeq: 6,
        kind: 'missing',
      }),
    ]);

    await postBatch(collector.url, token, batch('gap-a', 4, 6));
    const filled = await eventually(
      metrics,
      (s) => sampleValue(s, 'portcullis_collector_gap_events', labels) === undefined,
    );
    expect(sampleValue(filled, 'portcullis_collector_gap_events', labels)).toBeUndefined();
    expect(sampleValue(filled, 'portcullis_collector_gaps_detected_total', { kind: 'missing' })).toBe(1);
    expect(warnings(/missing/)).toHaveLength(1);
  });

  it('reports ranges the sidecar says are lost, and its lag', async () => {
    await postBatch(collector.url, token, batch('gap-b', 1, 4));
    const beat = await postHeartbeat(collector.url, token, {
      sidecar: 'gap-b',
      server: { namespace, name: 'docs' },
      lastSeq: 20,
      ackedSeq: 4,
      lost: [{ fromSeq: 5, toSeq: 6, reason: 'corrupt WAL record' }],
    });
    expect(beat.status).toBe(204);
    const seen = await eventually(
      metrics,
      (s) => sampleValue(s, 'portcullis_collector_gaps_detected_total', { kind: 'lost' }) === 1,
    );
    expect(sampleValue(seen, 'portcullis_collector_gaps_detected_total', { kind: 'lost' })).toBe(1);
    expect(sampleValue(seen, 'portcullis_collector_sidecar_lag_events', { sidecar: 'gap-b' })).toBe(16);
    expect(warnings(/lost/)).toEqual([
      expect.objectContaining({
        sidecar: 'gap-b',
        fromSeq: 5,
        toSeq: 6,
        kind: 'lost',
        reason: 'corrupt WAL record',
      }),
    ]);
  });

  it('counts ingest by result and times the store', async () => {
    const samples = await metrics();
    expect(
      sampleValue(samples, 'portcullis_collector_ingest_events_total', { result: 'accepted' }),
    ).toBeGreaterThanOrEqual(13);
    expect(
      sampleValue(samples, 'portcullis_collector_requests_total', { endpoint: 'events', code: 'ok' }),
    ).toBeGreaterThanOrEqual(4);
    expect(
      sampleValue(samples, 'portcullis_collector_store_duration_seconds_count', {
        operation: 'insert',
        result: 'ok',
      }),
    ).toBeGreaterThanOrEqual(4);
  });
});
