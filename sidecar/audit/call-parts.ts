import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { argumentsDigest, redact, type AuditEvent } from './event.ts';

/**
 * What every audit event of one tools/call shares, fixed once the call is decided: who called, which
 * server, the deciding rule and bundle hash, the argument digest and the recorded arguments. Everything
 * here is set before record-decision runs (authenticate, gate-policy, authorize-calls) and never changes
 * afterwards, so it is computed with the call's first event and kept on the call: an allowed call's
 * outcome event is its decision's parts with the outcome stamped on, and the canonical-JSON digest (the
 * costliest part of an event), a Redacted copy of the arguments and the server's copy are made once per
 * call (issue #14). What can change while the call runs (time, latency, session, trace, upstream
 * identity, outcome, the decision's code) is read per event in record.ts.
 */
export interface CallAuditParts {
  readonly server: AuditEvent['server'];
  /** user, agent and tenant, only those the principal has. */
  readonly who: Pick<AuditEvent, 'user' | 'agent' | 'tenant'>;
  /** rule, policyHash, argumentsDigest and arguments, in the event's field order. */
  readonly decided: Pick<AuditEvent, 'rule' | 'policyHash' | 'argumentsDigest' | 'arguments'>;
}

export function callAuditParts(exchange: Exchange, context: SidecarContext, call: ToolCall): CallAuditParts {
  return (call.auditParts ??= {
    server: serverOf(exchange, context),
    who: whoOf(exchange),
    decided: decidedFields(exchange, call),
  });
}

export function serverOf(exchange: Exchange, context: SidecarContext): AuditEvent['server'] {
  const server = exchange.policy?.bundle.server ??
    context.policy.current?.bundle.server ?? { namespace: '', name: '' };
  return { namespace: server.namespace, name: server.name };
}

export function whoOf(exchange: Exchange): CallAuditParts['who'] {
  const { principal } = exchange;
  return {
    ...(principal ? { user: principal.user, agent: principal.agent } : {}),
    ...(principal?.tenant !== undefined ? { tenant: principal.tenant } : {}),
  };
}

function decidedFields(exchange: Exchange, call: ToolCall): CallAuditParts['decided'] {
  const decision = call.verdict?.decision;
  const shadow = call.verdict?.wouldDeny;
  const policyHash = decision?.policyHash ?? exchange.policy?.hash;
  return {
    ...(decision?.rule ? { rule: decision.rule } : shadow?.rule ? { rule: shadow.rule } : {}),
    ...(policyHash ? { policyHash } : {}),
    ...argumentsFields(exchange, call, decision?.allowed ? decision.args : undefined),
  };
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
  const digest = argumentsDigest(args);
  if (mode === 'Full') return { argumentsDigest: digest, arguments: args };
  if (mode === 'Redacted')
    return {
      argumentsDigest: digest,
      arguments: redact(args, [...(spec?.redact ?? []), ...(override?.redact ?? [])]),
    };
  return { argumentsDigest: digest };
}
