import { performance } from 'node:perf_hooks';
import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { auditEvents, callAuditEvent } from './record.ts';

/**
 * Evidence before the answer. Each call's event is written the moment its fate is known and before
 * the client can see that fate: when the server's reply is in hand (before it is relayed), or before a
 * refusal is written. So a client that saw an answer can rely on its event existing, even if the
 * sidecar is killed the next instant (the WAL's write is in the kernel when emit returns).
 * Recording is idempotent per call; the pipeline's `finally` records whatever is left.
 */
export function recordCall(exchange: Exchange, context: SidecarContext, call: ToolCall): void {
  if (call.recorded) return;
  call.recorded = true;
  const event = callAuditEvent(exchange, context, call, performance.now() - exchange.startedAt);
  context.metrics.calls.inc({ tool: context.metrics.toolLabel(call.tool), decision: event.decision });
  context.audit.emit(event);
}

/** Records every call not yet recorded, or the refused request itself when it carried no call. */
export function recordExchange(exchange: Exchange, context: SidecarContext): void {
  if (exchange.calls.length > 0) {
    for (const call of exchange.calls) recordCall(exchange, context, call);
    return;
  }
  if (exchange.recorded) return;
  exchange.recorded = true;
  // A refused request without a tool call (a 401 on initialize) is audited, but it is not a tool
  // call: it is counted in refusals only, not as calls of a tool named "".
  for (const event of auditEvents(exchange, context, performance.now() - exchange.startedAt))
    context.audit.emit(event);
}
