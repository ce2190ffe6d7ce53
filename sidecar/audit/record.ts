import { randomUUID } from 'node:crypto';
import type { SidecarContext } from '../context.ts';
import { contractAuditFields } from '../contracts/call-contract.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import type { Rejection } from '../reject.ts';
import { inboundTrace } from '../tracing/inbound.ts';
import { argumentsDigest, redact, type AuditDecision, type AuditEvent } from './event.ts';

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

/**
 * An allowed call is recorded twice (its decision before forwarding, its outcome after) with the same
 * arguments object: the canonical-JSON digest, most of an event's cost, is computed once per object.
 */
const digests = new WeakMap<object, string>();
function digestOnce(args: Readonly<Record<string, unknown>>): string {
  let digest = digests.get(args);
  if (digest === undefined) digests.set(args, (digest = argumentsDigest(args)));
  return digest;
}

function argumentsFields(
  exchange: Exchange,
  call: ToolCall,
  allowedArgs: Readonly<Record<string, unknown>> | undefined,
) {
  const args = allowedArgs ?? call.args;
  const spec = exchange.policy?.bundle.spec.audit;
  const override = call.verdict?.decision.rule
    ? exchange.policy?.bundle.policies.find((p) => p.name === call.verdict!.decision.rule!.policy)?.audit
    : undefined;
  const mode = override?.arguments ?? spec?.arguments ?? 'Digest';
  const digest = digestOnce(args);
  if (mode === 'Full') return { argumentsDigest: digest, arguments: args };
  if (mode === 'Redacted')
    return {
      argumentsDigest: digest,
      arguments: redact(args, [...(spec?.redact ?? []), ...(override?.redact ?? [])]),
    };
  return { argumentsDigest: digest };
}

/** The trace the request belongs to: the sidecar's span when it traces, else the client's trace. */
function traceFields(exchange: Exchange): { traceId?: string; spanId?: string } {
  if (exchange.trace) return exchange.trace.ids(exchange);
  const inbound = inboundTrace(exchange);
  return inbound ? { traceId: inbound.parent.traceId } : {};
}

function baseFields(exchange: Exchange, context: SidecarContext, latencyMs: number) {
  const { principal } = exchange;
  const server = exchange.policy?.bundle.server ??
    context.policy.current?.bundle.server ?? { namespace: '', name: '' };
  return {
    schema: 'portcullis.dev/audit/v1' as const,
    time: new Date(context.clock()).toISOString(),
    requestId: exchange.requestId,
    server: { namespace: server.namespace, name: server.name },
    ...(principal ? { user: principal.user, agent: principal.agent } : {}),
    ...(principal?.tenant !== undefined ? { tenant: principal.tenant } : {}),
    latencyMs,
    ...(exchange.sessionId ? { sessionId: exchange.sessionId } : {}),
    ...(exchange.session?.clientInfo ? { clientInfo: exchange.session.clientInfo } : {}),
    ...traceFields(exchange),
  };
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
  return {
    ...baseFields(exchange, context, latencyMs ?? 0),
    id: randomUUID(),
    kind: call.decisionRecorded ? 'outcome' : 'call',
    method: 'tools/call',
    tool: call.tool,
    decision: kind,
    ...(effective
      ? { code: effective.code, reason: ('detail' in effective && effective.detail) || effective.reason }
      : shadow
        ? { code: shadow.code, reason: shadow.reason }
        : {}),
    ...(decision?.rule ? { rule: decision.rule } : shadow?.rule ? { rule: shadow.rule } : {}),
    ...((decision?.policyHash ?? exchange.policy?.hash)
      ? { policyHash: decision?.policyHash ?? exchange.policy!.hash }
      : {}),
    ...argumentsFields(exchange, call, decision?.allowed ? decision.args : undefined),
    ...(latencyMs !== undefined ? { outcome: call.outcome ?? (effective ? 'refused' : 'ok') } : {}),
    upstreamIdentity: exchange.upstreamIdentity ?? {
      mode: exchange.policy?.bundle.spec.upstreamAuth.mode ?? 'None',
    },
    ...contractAuditFields(call, kind), // tool digest; quarantine and schema findings
  } satisfies AuditEvent;
}

export function auditEvents(exchange: Exchange, context: SidecarContext, latencyMs: number): AuditEvent[] {
  const { rejection } = exchange;
  if (exchange.calls.length === 0) {
    if (rejection === undefined) return [];
    return [
      {
        ...baseFields(exchange, context, latencyMs),
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
