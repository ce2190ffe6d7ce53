import { createHash } from 'node:crypto';

/**
 * A stand-in for a client value the sidecar must not repeat: a short digest lets an operator match a refusal
 * with their own logs without the value itself (a request path can carry a token) reaching an error, a log
 * line or the audit trail.
 */
export function digestForMessage(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 12)}`;
}
