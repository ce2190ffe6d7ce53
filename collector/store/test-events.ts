import { createHash } from 'node:crypto';
import { AUDIT_SCHEMA, type AuditEvent } from '../../api/audit/v1/event.ts';

/**
 * Valid audit events for store tests. The id is derived from (sidecar, seq), as a retried batch carries the
 * same ids; the time from seq, one second apart from `base`, unless overridden.
 */
export function testEvent(sidecar: string, seq: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    schema: AUDIT_SCHEMA,
    id: uuidFor(`${sidecar}/${seq}`),
    kind: 'call',
    time: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    requestId: `req-${sidecar}-${seq}`,
    server: { namespace: 'team-a', name: 'docs' },
    method: 'tools/call',
    tool: 'search',
    user: 'alice',
    agent: 'copilot',
    tenant: 'acme',
    decision: 'allowed',
    policyHash: 'sha256-policy',
    latencyMs: 3,
    sidecar,
    seq,
    ...overrides,
  };
}

/** Events seq `from` through `to` of one sidecar. */
export function testEvents(
  sidecar: string,
  from: number,
  to: number,
  overrides: Partial<AuditEvent> = {},
): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (let seq = from; seq <= to; seq++) events.push(testEvent(sidecar, seq, overrides));
  return events;
}

/** A version-4-shaped UUID determined by `seed`. */
export function uuidFor(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  const variant = ((Number.parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
