import type { Exchange } from '../exchange.ts';
import { inboundTrace, META_TRACEPARENT, META_TRACESTATE } from './inbound.ts';
import type { OutboundTrace } from './request-trace.ts';
import { formatTraceParent } from './trace-context.ts';

/**
 * The trace context the server is sent. Tracing on: the sidecar's own span of the hop (so the server's
 * span is its child). Tracing off: the client's context, if it was valid, re-formatted from its parsed
 * fields: the sidecar is then invisible in the trace but does not break it. Nothing otherwise.
 */
export function outboundTrace(exchange: Exchange): OutboundTrace | undefined {
  if (exchange.trace) return exchange.trace.startUpstream(exchange);
  const inbound = inboundTrace(exchange);
  if (inbound === undefined) return undefined;
  return {
    traceparent: formatTraceParent(inbound.parent),
    ...(inbound.state !== undefined ? { tracestate: inbound.state } : {}),
  };
}

/**
 * A message as the server receives it when its revision carries trace context in `params._meta`: the
 * client's traceparent and tracestate are replaced by the decided ones (or removed, when there are none:
 * an unparsable value the sidecar ignored must not reach the server either). The parsed message stays
 * as the stages read it; only the copy that is serialized changes. Other `_meta` keys are untouched.
 */
export function withTraceMeta(
  message: Record<string, unknown>,
  outbound: OutboundTrace | undefined,
): Record<string, unknown> {
  const params = message['params'];
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return message;
  const meta = (params as Record<string, unknown>)['_meta'];
  const hasMeta = typeof meta === 'object' && meta !== null && !Array.isArray(meta);
  const carried = hasMeta && (Object.hasOwn(meta, META_TRACEPARENT) || Object.hasOwn(meta, META_TRACESTATE));
  if (outbound === undefined && !carried) return message;
  const {
    [META_TRACEPARENT]: _parent,
    [META_TRACESTATE]: _state,
    ...rest
  } = hasMeta ? (meta as Record<string, unknown>) : {};
  const traced =
    outbound === undefined
      ? rest
      : {
          ...rest,
          [META_TRACEPARENT]: outbound.traceparent,
          ...(outbound.tracestate !== undefined ? { [META_TRACESTATE]: outbound.tracestate } : {}),
        };
  return { ...message, params: { ...(params as Record<string, unknown>), _meta: traced } };
}
