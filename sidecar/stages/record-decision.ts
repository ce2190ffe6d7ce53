import { callAuditEvent } from '../audit/record.ts';
import { durabilityFor } from '../audit/durability.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * Audit before effect. A call is forwarded only when its evidence can be kept: with no room in the
 * write-ahead log the request is refused (typed, retryable) instead of forwarded unrecorded. Every
 * allowed call's decision is written before the server sees the call, and its outcome follows as a
 * second event when it ends, so a sidecar killed mid-call still leaves the decision behind. Strict
 * calls wait until the decision is on disk; batched ones only until the kernel has it (it survives a
 * crashed process, and reaches the disk within the sync interval).
 */
export function recordDecision(
  exchange: Exchange,
  context: SidecarContext,
): StageResult | Promise<StageResult> {
  const allowed = exchange.calls.filter((call) => call.verdict?.decision.allowed);
  if (allowed.length === 0) return undefined;
  if (!context.audit.hasRoom())
    return reject('audit_unavailable', 'the audit log is full: calls are refused until it drains');
  if (!context.audit.durable) return undefined;
  const setting = exchange.policy!.bundle.spec.audit.durability;
  const strict: ToolCall[] = [];
  for (const call of allowed) {
    if (durabilityFor(setting, context.contracts.get(call.tool)?.definition) === 'strict') strict.push(call);
    else if (context.audit.emit(callAuditEvent(exchange, context, call))) call.decisionRecorded = true;
    else return reject('audit_unavailable', 'the audit log cannot be written: the call was not forwarded');
  }
  // Batched only: done without a promise, so the pipeline does not wait a turn for nothing.
  return strict.length === 0 ? undefined : recordStrict(exchange, context, strict);
}

/** Strict calls: forwarded only once each decision is on disk. */
async function recordStrict(
  exchange: Exchange,
  context: SidecarContext,
  strict: readonly ToolCall[],
): Promise<StageResult> {
  const written = await Promise.allSettled(
    strict.map(async (call) => {
      await context.audit.emitDurable(callAuditEvent(exchange, context, call));
      call.decisionRecorded = true; // its end becomes an `outcome` event
    }),
  );
  const failed = written.find((result) => result.status === 'rejected');
  if (failed === undefined) return undefined;
  context.log.error(
    { err: failed.reason, requestId: exchange.requestId },
    'audit write failed: call refused',
  );
  return reject('audit_unavailable', 'the audit log cannot be written: the call was not forwarded');
}
