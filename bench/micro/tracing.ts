/**
 * What tracing costs per request, in CPU, apart from the machine's noise in end-to-end latency:
 * - off (the default): the trace-context stage and the forwarded traceparent, with and without a
 *   client traceparent; nothing else runs (the SDK is not loaded: test/integration/sidecar-tracing);
 * - on, not sampled (--trace-sample-ratio 0, no sampled parent): the SDK's non-recording spans;
 * - on, recorded: the server span with 13 stage events and the client span of the hop, ended;
 * - and the OTLP protobuf serialization of those two spans, what the batch exporter does later;
 * - against the alternative not taken: a child span per stage.
 * Run: node bench/micro/tracing.ts  (best of 7 rounds; the machine's load shows in the numbers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { newExchange, type Exchange } from '../../sidecar/exchange.ts';
import { PIPELINE } from '../../sidecar/pipeline.ts';
import { inboundTrace } from '../../sidecar/tracing/inbound.ts';
import { requestTraces } from '../../sidecar/tracing/otel-tracer.ts';
import { outboundTrace } from '../../sidecar/tracing/outbound.ts';
import type { RequestTracer } from '../../sidecar/tracing/request-trace.ts';
import { decisionAttributes, requestAttributes } from '../../sidecar/tracing/span-attributes.ts';
import { nanosecondsPerCall } from './timing.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const upstream = { transport: 'tcp' as const, address: '127.0.0.1', port: 8080 };
const response = {} as ServerResponse;

/** An exchange as the stages leave a ~1 KB allowed tools/call (no policy object: attributes skip it). */
function exchange(headers: Record<string, string>): Exchange {
  const request = { method: 'POST', url: '/mcp', headers } as unknown as IncomingMessage;
  const value = newExchange('bench-request', performance.now(), request, response);
  const message = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } };
  value.messages.push({ kind: 'request', id: 1, method: 'tools/call', message });
  value.calls.push({ index: 0, id: 1, tool: 'echo', args: {}, outcome: 'ok' });
  value.protocolVersion = '2025-11-25';
  return value;
}

function traced(begin: RequestTracer['begin'], headers: Record<string, string>): () => void {
  return () => {
    const value = exchange(headers);
    value.trace = begin(value);
    for (const [name] of PIPELINE) {
      if (name === 'forward') outboundTrace(value);
      value.trace.stage(name, performance.now(), undefined);
    }
    value.trace.endUpstream(value);
    value.trace.ids(value);
    value.trace.end(value);
  };
}

const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`;
const N = 20_000;

const baseline = nanosecondsPerCall(() => exchange({}), N);
const offNone = nanosecondsPerCall(() => {
  const value = exchange({});
  inboundTrace(value);
  outboundTrace(value);
}, N);
const offHeader = nanosecondsPerCall(() => {
  const value = exchange({ traceparent: TRACEPARENT });
  inboundTrace(value);
  outboundTrace(value);
}, N);

const unsampledProvider = new TracerProvider({ sampler: new AlwaysOffSampler() });
const unsampled = nanosecondsPerCall(
  traced(requestTraces(unsampledProvider.getTracer('b'), upstream), {}),
  N,
);

/** What the batch processor does when a span ends (queue it); exporting is measured apart below. */
const finished: ReadableSpan[] = [];
const queue: SpanProcessor = {
  onStart: () => undefined,
  onEnd: (span) => void finished.push(span),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const recordedProvider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [queue] });
const recordedTracer = recordedProvider.getTracer('b');
const recordedRun = traced(requestTraces(recordedTracer, upstream), { traceparent: TRACEPARENT });
const recorded = nanosecondsPerCall(() => {
  recordedRun();
  if (finished.length > 1000) finished.length = 0;
}, N);

// The alternative not taken: a child span per stage instead of a span event.
// Same attributes as the spans above, so the two compare: the request's on both ends, the stage's
// result on each stage span (its duration is the span's own).
const childSpansRun = () => {
  const value = exchange({ traceparent: TRACEPARENT });
  const server = recordedTracer.startSpan('tools/call echo', { kind: SpanKind.SERVER });
  const parent = trace.setSpan(ROOT_CONTEXT, server);
  for (const [name] of PIPELINE) {
    const stage = recordedTracer.startSpan(name, {}, parent);
    stage.setAttribute('portcullis.stage.result', 'continue');
    stage.end();
  }
  const client = recordedTracer.startSpan('tools/call echo', { kind: SpanKind.CLIENT }, parent);
  client.setAttributes(requestAttributes(value));
  client.end();
  server.setAttributes(decisionAttributes(value));
  server.end();
};
const childSpans = nanosecondsPerCall(() => {
  childSpansRun();
  if (finished.length > 1000) finished.length = 0;
}, N);

/** Protobuf bytes and serialization time per request, over a 512-span batch of `run`'s spans. */
function serialization(run: () => void, spansPerRequest: number): { ns: number; bytes: number } {
  finished.length = 0;
  const requests = Math.floor(512 / spansPerRequest);
  for (let i = 0; i < requests; i++) run();
  const batch = finished.slice();
  let bytes = 0;
  const ns = nanosecondsPerCall(() => {
    bytes = ProtobufTraceSerializer.serializeRequest(batch)!.length;
  }, 50);
  return { ns: ns / requests, bytes: Math.round(bytes / requests) };
}
const eventsExport = serialization(recordedRun, 2);
const childSpansExport = serialization(childSpansRun, PIPELINE.length + 2);

const result = {
  benchmark: 'tracing-micro',
  date: new Date().toISOString(),
  node: process.version,
  perRequest: {
    offWithoutTraceparent: us(offNone - baseline),
    offWithTraceparent: us(offHeader - baseline),
    onNotSampled: us(unsampled - baseline),
    onRecorded: us(recorded - baseline),
    onRecordedSerialization: us(eventsExport.ns),
    otlpBytes: eventsExport.bytes,
    alternativeChildSpanPerStage: us(childSpans),
    alternativeSerialization: us(childSpansExport.ns),
    alternativeOtlpBytes: childSpansExport.bytes,
  },
  note: 'microseconds of CPU per request beyond building the exchange record; recorded = a server span with 13 stage events and a client span',
};
console.log(JSON.stringify(result, null, 2));
