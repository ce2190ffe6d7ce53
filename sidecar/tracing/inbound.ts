import { carriesTraceContextInMeta, isProtocolRevision } from '../protocol/headers.ts';
import type { Exchange } from '../exchange.ts';
import { parseTraceParent, parseTraceState, type TraceParent } from './trace-context.ts';

/** The trace context the client sent, as the sidecar decided to read it. */
export interface InboundTrace {
  readonly parent: TraceParent;
  /** Normalised tracestate, only beside a valid traceparent from the same carrier. */
  readonly state?: string;
  /** Where it came from: the MCP message (2026-07-28) or the HTTP request. */
  readonly carrier: 'meta' | 'header';
}

export const META_TRACEPARENT = 'traceparent';
export const META_TRACESTATE = 'tracestate';

/** Whether the request's protocol revision (checked by check-protocol) carries trace context in `_meta`. */
export function traceContextInMeta(exchange: Exchange): boolean {
  const revision = exchange.protocolVersion;
  return isProtocolRevision(revision) && carriesTraceContextInMeta(revision);
}

/** params._meta of the request's first message, when the revision puts trace context there. */
function metaOf(exchange: Exchange): Record<string, unknown> | undefined {
  if (!traceContextInMeta(exchange)) return undefined;
  const params = exchange.messages[0]?.message['params'];
  if (typeof params !== 'object' || params === null) return undefined;
  const meta = (params as Record<string, unknown>)['_meta'];
  return typeof meta === 'object' && meta !== null && !Array.isArray(meta)
    ? (meta as Record<string, unknown>)
    : undefined;
}

function read(traceparent: unknown, tracestate: unknown, carrier: InboundTrace['carrier']) {
  const parent = parseTraceParent(traceparent);
  if (!parent.ok) return undefined;
  const state = parseTraceState(tracestate);
  return { parent: parent.value, ...(state !== undefined ? { state } : {}), carrier } as InboundTrace;
}

/**
 * Decides, once per exchange, which trace the request belongs to. The MCP message's context wins over
 * the HTTP request's: one HTTP request is transport, and the message is what the client traced (the
 * OpenTelemetry MCP conventions say the same). A context that does not parse counts as absent, so a
 * malformed `_meta` falls back to a valid header. Stages before trace-context (a request refused while
 * being read) get the header's context: the protocol revision, and so `_meta`, is not known yet.
 */
export function inboundTrace(exchange: Exchange): InboundTrace | undefined {
  if (exchange.inboundTrace !== undefined) return exchange.inboundTrace ?? undefined;
  const meta = metaOf(exchange);
  const decided =
    (meta && read(meta[META_TRACEPARENT], meta[META_TRACESTATE], 'meta')) ??
    read(exchange.headers['traceparent'], exchange.headers['tracestate'], 'header');
  exchange.inboundTrace = decided ?? null;
  return decided;
}
