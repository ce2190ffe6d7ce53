import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { inboundTrace } from '../tracing/inbound.ts';
import type { StageResult } from './stage.ts';

/**
 * Which trace the request belongs to: W3C trace context from `params._meta` (2026-07-28) or the
 * traceparent header, strictly parsed. Never refuses: a context is a hint for observability, and one
 * that does not parse is ignored (tracing/inbound.ts). Runs with tracing off too, for the audit event's
 * trace id and for passing a valid context on to the server; it costs a header lookup then.
 */
export function traceContext(exchange: Exchange, _context: SidecarContext): StageResult {
  inboundTrace(exchange);
  return undefined;
}
