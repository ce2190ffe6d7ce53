import { randomUUID } from 'node:crypto';
import { IsoTimeFormatter } from '../../lib/iso-time.ts';
import type { SidecarContext } from '../context.ts';
import { contractAuditFields } from '../contracts/call-contract.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import type { Rejection } from '../reject.ts';
import { inboundTrace } from '../tracing/inbound.ts';
import { callAuditParts, serverOf, whoOf, type CallAuditParts } from './call-parts.ts';
import type { AuditDecision, AuditEvent } from './event.ts';

/**
 * Turns a finished exchange into its audit events: one per tools/call (whatever became of it), or one
 * for a refused request that carried no tool call. Allowed non-tool traffic (initialize, tools/list,
 * ping) is not a decision about a tool and is counted in metrics only.
 */
const ERRORED = new Set([
  'auth_unavailable',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_identity_unavailable',
  'response_too_large',
  'internal_error',
]);

function decisionOf(call: ToolCall | undefined, rejection: Rejection | undefined): AuditDecision {
  const decision = call?.verdict?.decision;
  if (decision && !decision.allowed) return decision.code === 'killed' ? 'killed' : 'denied';
  if (rejection)
    return rejection.code === 'killed' ? 'killed' : ERRORED.has(rejection.code) ? 'errored' : 'denied';
  if (call?.outcome === 'upstream_error' || call?.outcome === 'timeout') return 'errored';
  return call?.verdict?.wouldDeny ? 'would_deny' : 'allowed';
}

/** Events of the same second share the text up to the second (lib/iso-time.ts). */
const eventTime = new IsoTimeFormatter();

/**
 * The fields every event of an exchange starts with, in the event's field order, assigned one by one:
 * spreading a dozen small conditional objects into each event cost more than the rest of building it
 * (issue #14's profile). Keys are only ever added when present, so the event (and its JSON, key order
 * included) is what the spread form made.
 */
function baseFields(
  exchange: Exchange,
  context: SidecarContext,
  latencyMs: number,
  server: AuditEvent['server'],
  who: CallAuditParts['who'],
): Partial<AuditEvent> {
  const event: Partial<AuditEvent> = {
    schema: 'portcullis.dev/audit/v1',
    time: eventTime.format(context.clock()),
    requestId: exchange.requestId,
    server,
  };
  if ('user' in who) {
    event.user = who.user;
    event.agent = who.agent;
  }
  if (who.tenant !== undefined) event.tenant = who.tenant;
  event.latencyMs = latencyMs;
  if (exchange.sessionId) event.sessionId = exchange.sessionId;
  if (exchange.session?.clientInfo) event.clientInfo = exchange.session.clientInfo;
  // The trace the request belongs to: the sidecar's span when it traces, else the client's trace.
  if (exchange.trace) Object.assign(event, exchange.trace.ids(exchange));
  else {
    const inbound = inboundTrace(exchange);
    if (inbound) event.traceId = inbound.parent.traceId;
  }
  return event;
}

/**
 * The event of one tools/call. Before forwarding (Strict durability) the call has no outcome yet and
 * the event records the decision only; once a recorded call ends, its event is of kind `outcome`.
 */
export function callAuditEvent(
  exchange: Exchange,
  context: SidecarContext,
  call: ToolCall,
  /** How long the exchange took; undefined before forwarding (the decision alone). */
  latencyMs?: number,
): AuditEvent {
  const { rejection } = exchange;
  const decision = call.verdict?.decision;
  const refused = decision && !decision.allowed ? decision : undefined;
  const effective = refused ?? (rejection && (!decision || decision.allowed) ? rejection : undefined);
  const shadow = call.verdict?.wouldDeny;
  const kind = decisionOf(call, effective);
  const parts = callAuditParts(exchange, context, call); // the same for the decision and the outcome
  const event = baseFields(exchange, context, latencyMs ?? 0, parts.server, parts.who);
  event.id = randomUUID();
  event.kind = call.decisionRecorded ? 'outcome' : 'call';
  event.method = 'tools/call';
  event.tool = call.tool;
  event.decision = kind;
  if (effective) {
    event.code = effective.code;
    event.reason = ('detail' in effective && effective.detail) || effective.reason;
  } else if (shadow) {
    event.code = shadow.code;
    event.reason = shadow.reason;
  }
  Object.assign(event, parts.decided); // rule, policyHash, argumentsDigest, arguments
  if (latencyMs !== undefined) event.outcome = call.outcome ?? (effective ? 'refused' : 'ok');
  event.upstreamIdentity = exchange.upstreamIdentity ?? {
    mode: exchange.policy?.bundle.spec.upstreamAuth.mode ?? 'None',
  };
  // Tool digest; quarantine and schema findings (a finding's code, decision and outcome win).
  if (call.contract !== undefined) Object.assign(event, contractAuditFields(call, kind));
  return event as AuditEvent; // every required field is set above
}

export function auditEvents(exchange: Exchange, context: SidecarContext, latencyMs: number): AuditEvent[] {
  const { rejection } = exchange;
  if (exchange.calls.length === 0) {
    if (rejection === undefined) return [];
    return [
      {
        ...(baseFields(exchange, context, latencyMs, serverOf(exchange, context), whoOf(exchange)) as Pick<
          AuditEvent,
          'schema' | 'time' | 'requestId' | 'server' | 'latencyMs'
        >),
        id: randomUUID(),
        kind: 'request',
        method: exchange.messages.map((m) => m.method ?? m.kind).join(',') || exchange.method,
        decision: decisionOf(undefined, rejection),
        code: rejection.code,
        reason: rejection.detail ?? rejection.reason,
        ...(rejection.policyHash ? { policyHash: rejection.policyHash } : {}),
        outcome: 'refused',
      },
    ];
  }
  return exchange.calls.map((call) => callAuditEvent(exchange, context, call, latencyMs));
}
