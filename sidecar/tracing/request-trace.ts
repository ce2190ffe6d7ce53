import type { Exchange } from '../exchange.ts';
import type { StageOutcome } from '../stages/stage.ts';

/** What the server is sent as its trace context (formatted by the sidecar, never the client's text). */
export interface OutboundTrace {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** The trace and span ids an audit event carries. */
export interface TraceIds {
  readonly traceId: string;
  /** The sidecar's span of the request; absent when it was not sampled (no such span is exported). */
  readonly spanId?: string;
}

/**
 * One request's span, while the sidecar traces (--otlp-traces-endpoint). The pipeline reports each
 * stage; forward opens the hop to the server. Implemented with the OpenTelemetry SDK in otel-tracer.ts,
 * which is loaded only when tracing is on: nothing here imports it.
 */
export interface RequestTrace {
  /** A stage finished: a span event at `startedAt` (performance.now()) with its result and duration. */
  stage(name: string, startedAt: number, outcome: StageOutcome): void;
  /** Opens the client span of the hop to the server and returns the context the server is sent. */
  startUpstream(exchange: Exchange): OutboundTrace;
  /** Closes the client span (forward's finally). */
  endUpstream(exchange: Exchange): void;
  ids(exchange: Exchange): TraceIds;
  /** Closes the request's span (handleRequest's finally): attributes, status, stage events. */
  end(exchange: Exchange): void;
}

/** Built once at start-up when tracing is on; absent from the context otherwise. */
export interface RequestTracer {
  begin(exchange: Exchange): RequestTrace;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}
