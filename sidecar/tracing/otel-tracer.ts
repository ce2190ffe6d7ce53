/**
 * Request spans with the OpenTelemetry SDK, exported over OTLP/HTTP (protobuf). Loaded by start.ts with
 * a dynamic import, and only when --otlp-traces-endpoint is set: a sidecar that does not trace never
 * loads the SDK (start-up time and resident memory are tracked figures, docs/performance.md).
 *
 * Per request: one SERVER span from arrival to the last byte (its parent: the client's context, if
 * valid), a span event per pipeline stage, and one CLIENT span for the hop to the server, whose context
 * the server is sent. Sampling is parent-based: a client's sampled flag is honoured, a new trace is
 * sampled at --trace-sample-ratio.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  createTraceState,
  trace as otelTrace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { performance } from 'node:perf_hooks';
import type { Exchange } from '../exchange.ts';
import { ANSWERED, type StageOutcome } from '../stages/stage.ts';
import { inboundTrace } from './inbound.ts';
import type { OutboundTrace, RequestTrace, RequestTracer, TraceIds } from './request-trace.ts';
import { decisionAttributes, errorType, requestAttributes, spanName } from './span-attributes.ts';
import { formatTraceParent } from './trace-context.ts';

export interface TracerOptions {
  /** The OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces. */
  readonly endpoint: string;
  /** Share of new traces (no sampled parent) that are recorded, 0..1. */
  readonly sampleRatio: number;
  /** Resource attributes: service.name and the like. */
  readonly resource: Readonly<Record<string, string>>;
  /** Where the server is, for the client span (server.address/port, or a pipe for stdio). */
  readonly upstream: {
    readonly address?: string;
    readonly port?: number;
    readonly transport: 'tcp' | 'pipe';
  };
  /** Each export's fate, for metrics and a log line (the SDK itself reports nowhere). */
  readonly onExport: (spans: number, ok: boolean, error?: Error) => void;
}

/** Counts what the exporter did; the SDK's own error handler is silent without a diag logger. */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #report: TracerOptions['onExport'];
  constructor(inner: SpanExporter, report: TracerOptions['onExport']) {
    this.#inner = inner;
    this.#report = report;
  }
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      this.#report(spans.length, result.code === ExportResultCode.SUCCESS, result.error);
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

function stageResult(outcome: StageOutcome): string {
  if (outcome === undefined) return 'continue';
  return outcome === ANSWERED ? 'answered' : 'refused';
}

/** Stage events are buffered as plain tuples and added when the span ends (only if it is recorded). */
type StageEvent = readonly [name: string, startedAt: number, endedAt: number, outcome: StageOutcome];

class OtelRequestTrace implements RequestTrace {
  readonly #tracer: Tracer;
  readonly #upstream: TracerOptions['upstream'];
  readonly #events: StageEvent[] = [];
  #span: Span | undefined;
  #client: Span | undefined;

  constructor(tracer: Tracer, upstream: TracerOptions['upstream']) {
    this.#tracer = tracer;
    this.#upstream = upstream;
  }

  /**
   * The server span, opened at first need: its parent comes from the client's context, which is known
   * after trace-context (or, for a request refused earlier, from the header alone). Its start is the
   * request's arrival, whenever it is opened.
   */
  #server(exchange: Exchange): Span {
    if (this.#span !== undefined) return this.#span;
    const inbound = inboundTrace(exchange);
    let parent: Context = ROOT_CONTEXT;
    if (inbound !== undefined) {
      parent = otelTrace.setSpanContext(ROOT_CONTEXT, {
        traceId: inbound.parent.traceId,
        spanId: inbound.parent.spanId,
        traceFlags: inbound.parent.flags & TraceFlags.SAMPLED,
        isRemote: true,
        ...(inbound.state !== undefined ? { traceState: createTraceState(inbound.state) } : {}),
      });
    }
    this.#span = this.#tracer.startSpan(
      spanName(exchange),
      { kind: SpanKind.SERVER, startTime: exchange.startedAt },
      parent,
    );
    return this.#span;
  }

  stage(name: string, startedAt: number, outcome: StageOutcome): void {
    this.#events.push([name, startedAt, performance.now(), outcome]);
  }

  startUpstream(exchange: Exchange): OutboundTrace {
    const server = this.#server(exchange);
    const attributes = requestAttributes(exchange);
    attributes['network.transport'] = this.#upstream.transport;
    if (this.#upstream.transport === 'pipe') delete attributes['network.protocol.name'];
    if (this.#upstream.address !== undefined) attributes['server.address'] = this.#upstream.address;
    if (this.#upstream.port !== undefined) attributes['server.port'] = this.#upstream.port;
    this.#client = this.#tracer.startSpan(
      spanName(exchange),
      { kind: SpanKind.CLIENT, attributes },
      otelTrace.setSpan(ROOT_CONTEXT, server),
    );
    const context = this.#client.spanContext();
    const state = inboundTrace(exchange)?.state;
    return {
      traceparent: formatTraceParent({
        traceId: context.traceId,
        spanId: context.spanId,
        flags: context.traceFlags,
      }),
      ...(state !== undefined ? { tracestate: state } : {}),
    };
  }

  endUpstream(exchange: Exchange): void {
    const client = this.#client;
    if (client === undefined) return;
    this.#client = undefined;
    if (client.isRecording()) {
      const error = exchange.calls.find((c) => c.outcome !== undefined && c.outcome !== 'ok')?.outcome;
      if (error !== undefined) {
        client.setAttribute('error.type', error);
        client.setStatus({ code: SpanStatusCode.ERROR, message: error });
      }
    }
    client.end(performance.now());
  }

  ids(exchange: Exchange): TraceIds {
    const span = this.#server(exchange);
    const { traceId, spanId } = span.spanContext();
    return span.isRecording() ? { traceId, spanId } : { traceId };
  }

  end(exchange: Exchange): void {
    const span = this.#server(exchange);
    if (span.isRecording()) {
      span.updateName(spanName(exchange));
      span.setAttributes(decisionAttributes(exchange));
      for (const [name, startedAt, endedAt, outcome] of this.#events) {
        span.addEvent(
          name,
          {
            'portcullis.stage.result': stageResult(outcome),
            'portcullis.stage.duration_ms': endedAt - startedAt,
            ...(outcome !== undefined && outcome !== ANSWERED
              ? { 'portcullis.stage.code': outcome.code }
              : {}),
          },
          startedAt,
        );
      }
      const error = errorType(exchange);
      if (error !== undefined) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: exchange.rejection?.publicReason ?? exchange.rejection?.reason ?? error,
        });
      }
    }
    span.end(performance.now());
  }
}

/** Request traces over any tracer (the benchmark gives its own provider). */
export function requestTraces(tracer: Tracer, upstream: TracerOptions['upstream']): RequestTracer['begin'] {
  return () => new OtelRequestTrace(tracer, upstream);
}

export function startTracer(options: TracerOptions): RequestTracer {
  const exporter = new ReportingExporter(new OTLPTraceExporter({ url: options.endpoint }), options.onExport);
  const provider = new TracerProvider({
    resource: resourceFromAttributes(options.resource),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('portcullis-sidecar');
  return {
    begin: requestTraces(tracer, options.upstream),
    shutdown: () => provider.shutdown(),
  };
}
