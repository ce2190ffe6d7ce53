import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { EVENTS_QUERY_PATH } from '../../api/audit/v1/query.ts';

/**
 * The audit trail as the collector holds it, read through its query API. The sidecar ships events as
 * they are written; `eventsOf` waits (bounded) for them to arrive.
 */
export interface AuditTrail {
  /** The events of these requests, oldest first, once each has its decision (kind call) stored. */
  eventsOf(requestIds: readonly string[]): Promise<AuditEvent[]>;
  /** Events of one kind since the walkthrough started, oldest first, once `until` holds for them. */
  eventsOfKind(kind: AuditEvent['kind'], until: (events: AuditEvent[]) => boolean): Promise<AuditEvent[]>;
  /** Every event of the server since the walkthrough started, oldest first. */
  all(): Promise<AuditEvent[]>;
}

const WAIT_MS = 5_000;

export function auditTrail(
  collectorUrl: string,
  server: { readonly namespace: string; readonly name: string },
  since: Date,
): AuditTrail {
  const all = async (): Promise<AuditEvent[]> => {
    const query = new URLSearchParams({
      namespace: server.namespace,
      server: server.name,
      since: since.toISOString(),
      order: 'asc',
      limit: '10000',
    });
    const response = await fetch(`${collectorUrl}${EVENTS_QUERY_PATH}?${query}`, {
      signal: AbortSignal.timeout(WAIT_MS),
    });
    if (!response.ok) throw new Error(`the collector answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { events: AuditEvent[] }).events;
  };

  const waitFor = async (select: (events: AuditEvent[]) => AuditEvent[] | undefined, what: string) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = select(await all());
      if (found !== undefined) return found;
      if (Date.now() > deadline)
        throw new Error(`the collector did not receive ${what} within ${WAIT_MS / 1000} s`);
      await sleep(50);
    }
  };

  return {
    all,
    eventsOf: (requestIds) =>
      waitFor(
        (events) => {
          const wanted = events.filter((event) => requestIds.includes(event.requestId));
          const decided = new Set(
            wanted.filter((event) => event.kind === 'call').map((event) => event.requestId),
          );
          return requestIds.every((id) => decided.has(id)) ? wanted : undefined;
        },
        `the events of requests ${requestIds.join(', ')}`,
      ),
    eventsOfKind: (kind, until) =>
      waitFor((events) => {
        const ofKind = events.filter((event) => event.kind === kind);
        return until(ofKind) ? ofKind : undefined;
      }, `the expected ${kind} events`),
  };
}

/** One event in one line: what was decided, for whom, by which rule and policy. */
export function describeEvent(event: AuditEvent): string {
  const who = event.user === undefined ? '' : `${event.user} via ${event.agent ?? '?'}`;
  const tenant = event.tenant === undefined ? '' : ` (tenant ${event.tenant})`;
  const subject =
    event.kind === 'kill_switch'
      ? `kill switch ${event.killSwitch?.state ?? ''} on ${event.killSwitch?.scope ?? ''}${event.killSwitch?.reason ? `: ${event.killSwitch.reason}` : ''}`
      : `${event.tool ?? event.method}  ${who}${tenant}`;
  const code = event.code === event.decision ? undefined : event.code;
  const why = code ?? (event.rule ? `rule ${event.rule.policy}/${event.rule.rule}` : '');
  return [`seq ${event.seq}`, event.decision.padEnd(7), subject, why, `policy ${shortHash(event.policyHash)}`]
    .filter((part) => part !== '')
    .join('  ');
}

export function shortHash(hash: string | undefined): string {
  return hash === undefined ? '-' : hash.replace(/^sha256:/, '').slice(0, 8);
}
