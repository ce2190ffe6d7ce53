import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { recordExchange } from './audit/record-exchange.ts';
import { authChallengeHeaders } from './auth-challenge.ts';
import type { SidecarContext } from './context.ts';
import { newExchange, type Exchange } from './exchange.ts';
import { reject } from './reject.ts';
import { writeRejection } from './respond.ts';
import { authenticate } from './stages/authenticate.ts';
import { authorizeCalls } from './stages/authorize-calls.ts';
import { checkContracts } from './contracts/check-contracts.ts';
import { checkProtocol } from './stages/check-protocol.ts';
import { checkRoute } from './stages/check-route.ts';
import { checkSession } from './stages/check-session.ts';
import { forward } from './stages/forward.ts';
import { gatePolicy } from './stages/gate-policy.ts';
import { limitCalls } from './stages/limit-calls.ts';
import { parseMessages } from './stages/parse-messages.ts';
import { readBody } from './stages/read-body.ts';
import { recordDecision } from './stages/record-decision.ts';
import { traceContext } from './stages/trace-context.ts';
import { ANSWERED, type Stage } from './stages/stage.ts';

/**
 * THE request path, in order. Each stage is a small function over the exchange; the first refusal ends
 * the request. Cheap structural checks come before anything that costs (token verification), and
 * authentication comes before anything that reveals state (sessions, policy).
 */
export const PIPELINE: readonly (readonly [name: string, stage: Stage])[] = [
  ['check-route', checkRoute], // exact path, method, Host/Origin allowlists, media types
  ['read-body', readBody], // size cap before buffering
  ['parse-messages', parseMessages], // strict JSON, JSON-RPC shape, batches, tools/call extraction
  ['check-protocol', checkProtocol], // MCP-Protocol-Version, mirrored Mcp-Method/Mcp-Name headers
  ['trace-context', traceContext], // W3C traceparent from _meta (2026-07-28) or the header; never refuses
  ['authenticate', authenticate], // bearer token -> principal; the token goes no further
  ['check-session', checkSession], // a session belongs to the principal that opened it
  ['gate-policy', gatePolicy], // a fresh policy (failurePolicy) and no server kill switch
  ['authorize-calls', authorizeCalls], // every tools/call: kill, deny, allow + argument bindings
  ['check-contracts', checkContracts], // pinned tool definitions (quarantine), arguments vs inputSchema
  ['limit-calls', limitCalls], // budgets, rates, concurrency slots (released in handleRequest's finally)
  ['record-decision', recordDecision], // audit before effect: room in the WAL; strict decisions on disk
  ['forward', forward], // to the server container; replies filtered and streamed back
];

async function runStages(exchange: Exchange, context: SidecarContext): Promise<void> {
  const timings = context.metrics.stageDuration;
  const trace = exchange.trace;
  const timed = timings !== undefined || trace !== undefined;
  for (const [name, stage] of PIPELINE) {
    // Per-stage timing is opt-in (--stage-timings, or tracing): it is for finding where time goes, not
    // for every pod; with both off the loop reads no clock.
    const started = timed ? performance.now() : 0;
    let result = stage(exchange, context);
    if (result instanceof Promise) result = await result;
    if (timings) timings.observe({ stage: name }, (performance.now() - started) / 1000);
    // A span event per stage, not a child span: a dozen spans per call would multiply export cost
    // for steps that mostly take microseconds (docs/DESIGN.md, "Traces").
    if (trace) trace.stage(name, started, result);
    if (result === ANSWERED) return;
    if (result !== undefined) {
      exchange.rejection = result;
      recordExchange(exchange, context); // the evidence before the answer
      writeRejection(exchange, result, authChallengeHeaders(result, context));
      return;
    }
  }
}

function decisionLabel(exchange: Exchange): string {
  if (exchange.rejection) return exchange.rejection.code === 'killed' ? 'killed' : 'refused';
  return 'allowed';
}

export async function handleRequest(
  context: SidecarContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const exchange = newExchange(randomUUID(), performance.now(), request, response);
  if (context.tracer) exchange.trace = context.tracer.begin(exchange);
  const { metrics } = context;
  metrics.inFlight.inc();
  try {
    await runStages(exchange, context);
  } catch (error) {
    // A thrown exception is a defect; the client gets a typed internal error, the log gets the stack.
    context.log.error({ err: error, requestId: exchange.requestId }, 'request failed with an exception');
    exchange.rejection = reject('internal_error', 'internal error');
    recordExchange(exchange, context);
    writeRejection(exchange, exchange.rejection);
  } finally {
    exchange.slots?.release();
    metrics.inFlight.dec();
    const latencyMs = performance.now() - exchange.startedAt;
    metrics.latency.observe({ decision: decisionLabel(exchange) }, latencyMs / 1000);
    if (exchange.rejection) metrics.refusals.inc({ code: exchange.rejection.code });
    recordExchange(exchange, context); // whatever is not recorded yet (a call the client gave up on)
    exchange.trace?.end(exchange);
  }
}
