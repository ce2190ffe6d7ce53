/**
 * The sidecar produces drafts of the versioned event (api/audit/v1/event.ts); the write-ahead log stamps
 * each with the sidecar id and its sequence number. Never a token: not the client's, not a minted one.
 */
export type {
  AuditDecision,
  AuditEventDraft as AuditEvent,
  AuditKind,
  EgressAuditDetail,
} from '../../api/audit/v1/event.ts';

export { argumentsDigest } from './arguments-digest.ts';

/** Removes the dot-separated paths from a copy of args, for `arguments: Redacted`. */
export function redact(
  args: Readonly<Record<string, unknown>>,
  paths: readonly string[],
): Record<string, unknown> {
  const copy = structuredClone(args) as Record<string, unknown>;
  for (const path of paths) {
    const keys = path.split('.');
    let node: unknown = copy;
    for (const key of keys.slice(0, -1))
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    if (node && typeof node === 'object') {
      const last = keys.at(-1)!;
      if (Object.hasOwn(node, last)) (node as Record<string, unknown>)[last] = '[redacted]';
    }
  }
  return copy;
}
