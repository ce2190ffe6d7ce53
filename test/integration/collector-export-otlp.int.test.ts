import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { unixNano } from '../../collector/export/otlp-logs.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
  sidecarEvents,
} from '../harness/collector.ts';
import { eventually } from '../harness/eventually.ts';
import { startLogRecorder, startOtelcol, type LogRecorder, type Otelcol } from '../harness/otelcol.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';

/**
 * Export to a SIEM through a real OpenTelemetry Collector: our OTLP/HTTP JSON logs -> otelcol (otlp
 * receiver) -> otlp_http exporter (encoding json) -> a recording receiver. Every event arrives at least
 * once with its attributes, and an otelcol outage mid-export loses nothing.
 */
let admin: KubeConfig;
let namespace: string;
let token: string;
let recorder: LogRecorder;
let otelcol: Otelcol;
let collector: CollectorUnderTest;

const batch = (
  sidecar: string,
  from: number,
  to: number,
  overrides: Partial<AuditEvent> = {},
): AuditEvent[] => sidecarEvents(sidecar, from, to, { namespace, name: 'docs' }, overrides);

const attributes = (record: LogRecorder['records'][number]) =>
  Object.fromEntries(record.attributes.map((a) => [a.key, Object.values(a.value)[0]]));

const receivedIds = () => new Set(recorder.records.map((r) => attributes(r)['event.id'] as string));

const backlog = async () =>
  sampleValue(
    parseSamples(await (await fetch(`${collector.metricsUrl}/metrics`)).text()),
    'portcullis_collector_export_backlog_events',
    { exporter: 'otlp' },
  );

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-otlp');
  token = await sidecarToken(admin, namespace, 'docs');
  recorder = await startLogRecorder();
  otelcol = await startOtelcol({ forwardTo: recorder.url });
  collector = await startCollector({
    flags: {
      'query-auth': 'none',
      export: 'otlp',
      'otlp-endpoint': otelcol.endpoint,
      'monitor-interval': '100ms',
    },
  });
}, 20 * 60_000);

afterAll(async () => {
  await collector?.stop();
  await otelcol?.stop();
  await recorder?.close();
});

describe('OTLP export through a real OpenTelemetry Collector', () => {
  it('delivers every event, with the attributes a SIEM filters on', async () => {
    const sent = [
      ...batch('otlp-a', 1, 400),
      ...batch('otlp-a', 401, 401, {
        decision: 'denied',
        code: 'no_matching_rule',
        user: 'mallory',
        tool: 'delete',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
      }),
    ];
    expect((await postBatch(collector.url, token, sent.slice(0, 200))).status).toBe(200);
    expect((await postBatch(collector.url, token, sent.slice(200))).status).toBe(200);
    await eventually(
      async () => receivedIds(),
      (ids) => ids.size === sent.length,
      20_000,
    );
    expect(receivedIds()).toEqual(new Set(sent.map((e) => e.id)));

    const denied = sent.at(-1)!;
    const record = recorder.records.find((r) => attributes(r)['event.id'] === denied.id)!;
    expect(attributes(record)).toMatchObject({
      'event.id': denied.id,
      'portcullis.server': `${namespace}/docs`,
      'portcullis.tool': 'delete',
      'enduser.id': 'mallory',
      'portcullis.decision': 'denied',
      'portcullis.code': 'no_matching_rule',
      'portcullis.sidecar': 'otlp-a',
      'portcullis.seq': '401',
    });
    expect(record.resource['service.name']).toBe('portcullis-collector');
    expect(record.timeUnixNano).toBe(unixNano(denied.time));
    expect(record.severityNumber).toBe(13);
    // The LogRecord's own trace context (what trace backends link on), through otelcol's JSON both ways.
    expect(record).toMatchObject({ traceId: denied.traceId, spanId: denied.spanId });
    expect(JSON.parse(record.body.stringValue)).toEqual(denied);
    expect(await eventually(backlog, (b) => b === 0)).toBe(0);
  });

  it('loses nothing when the OpenTelemetry Collector goes away mid-export: the backlog drains after it is back', async () => {
    const sent = batch('otlp-b', 1, 3000);
    const posting = (async () => {
      for (let at = 0; at < sent.length; at += 500) {
        expect((await postBatch(collector.url, token, sent.slice(at, at + 500))).status).toBe(200);
      }
    })();
    await eventually(
      async () => recorder.records.length,
      (n) => n > 401,
    );
    await otelcol.stop();
    await posting;
    const stuck = await eventually(backlog, (b) => b !== undefined && b > 0);
    expect(stuck).toBeGreaterThan(0);
    const failures = await eventually(
      async () =>
        sampleValue(
          parseSamples(await (await fetch(`${collector.metricsUrl}/metrics`)).text()),
          'portcullis_collector_export_failures_total',
          { exporter: 'otlp' },
        ),
      (f) => f !== undefined && f > 0,
    );
    expect(failures).toBeGreaterThan(0);

    await otelcol.start();
    const wanted = sent.map((e) => e.id);
    await eventually(
      async () => receivedIds(),
      (ids) => wanted.every((id) => ids.has(id)),
      60_000,
    );
    const ids = receivedIds();
    expect(wanted.filter((id) => !ids.has(id))).toEqual([]);
    expect(await eventually(backlog, (b) => b === 0)).toBe(0);
  }, 120_000);

  it('loses nothing when the collector itself is killed while the destination is down (the queue is in the store)', async () => {
    await otelcol.stop();
    const crashing = await startCollector({
      mode: 'child',
      flags: { 'query-auth': 'none', export: 'otlp', 'otlp-endpoint': otelcol.endpoint },
    });
    try {
      const sent = sidecarEvents('otlp-c', 1, 300, { namespace, name: 'docs' });
      expect((await postBatch(crashing.url, token, sent)).status).toBe(200);
      await crashing.kill();
      await otelcol.start();
      await crashing.start();
      await eventually(
        async () => receivedIds(),
        (ids) => sent.every((e) => ids.has(e.id)),
        30_000,
      );
      const ids = receivedIds();
      expect(sent.filter((e) => !ids.has(e.id))).toEqual([]);
    } finally {
      await crashing.stop();
    }
  }, 120_000);
});
