import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { describeEvent } from './audit-trail.ts';
import type { Caller, CallOutcome, HttpExchange, ListOutcome } from './caller.ts';
import type { StepContext } from './step.ts';

/** Makes a tools/call, prints it and its answer, and records it for the audit check. */
export async function call(
  context: StepContext,
  caller: Caller,
  tool: string,
  args: Record<string, unknown>,
): Promise<CallOutcome> {
  context.print.request(caller.label, `tools/call ${tool} ${JSON.stringify(args)}`);
  const outcome = await caller.call(tool, args);
  showAnswer(context, outcome);
  return outcome;
}

/** tools/list, printed. */
export async function listTools(context: StepContext, caller: Caller): Promise<ListOutcome> {
  context.print.request(caller.label, 'tools/list');
  const outcome = await caller.listTools();
  if (outcome.tools !== undefined)
    context.print.answer(true, `${outcome.http.status}  ${outcome.tools.join(', ')}`);
  else context.print.answer(false, refusalLine(outcome.http));
  return outcome;
}

export function showAnswer(context: StepContext, outcome: CallOutcome): void {
  context.record(outcome.http);
  if (outcome.result !== undefined) {
    const text = outcome.result.content.find((part) => part.type === 'text')?.text ?? '';
    context.print.answer(!outcome.result.isError, `${outcome.http.status}  ${text}`);
  } else {
    context.print.answer(false, refusalLine(outcome.http));
  }
}

/** "403 argument_binding: argument customer_id must equal the caller's tenant" */
export function refusalLine(http: HttpExchange): string {
  const retry = http.retryAfter === undefined ? '' : ` (Retry-After: ${http.retryAfter} s)`;
  return `${http.status}  ${http.refusal?.code ?? 'refused'}: ${http.refusal?.message ?? ''}${retry}`;
}

/** What the server was told about the caller (the billing server puts it in every result). */
export function callerSeenByServer(
  outcome: CallOutcome,
): { user?: string; agent?: string; tenant?: string; sawAuthorization?: boolean } | undefined {
  return outcome.result?.structuredContent?.['caller'] as ReturnType<typeof callerSeenByServer>;
}

/**
 * Waits for the audit events of these requests, prints each decision, and checks that each is the one
 * expected. Returns the events (decisions and outcomes).
 */
export async function showEvidence(
  context: StepContext,
  outcomes: readonly { readonly http: HttpExchange }[],
  expected: { readonly decision: AuditEvent['decision']; readonly code?: string },
): Promise<AuditEvent[]> {
  const ids = outcomes.map((outcome) => outcome.http.requestId).filter((id) => id !== undefined);
  context.expect(ids.length === outcomes.length, 'every answer carries a request id');
  const events = await context.audit.eventsOf(ids);
  for (const event of events.filter((e) => e.kind === 'call')) {
    context.print.evidence(describeEvent(event));
    context.expect(
      event.decision === expected.decision && (expected.code === undefined || event.code === expected.code),
      `the audit trail records ${expected.decision}${expected.code ? ` (${expected.code})` : ''} for request ${event.requestId}`,
    );
  }
  return events;
}
