import { randomBytes } from 'node:crypto';
import { sidecarId } from '../../../api/audit/v1/event.ts';

/**
 * The WAL identity: the `sidecar` of every event it stamps. It lives with the WAL, not the pod, because
 * (sidecar, seq) is the key the collector de-duplicates on: a new pod that keeps the volume continues the
 * same sequence under the same name.
 */
export const IDENTITY_FILE = 'identity';

export function newSidecarId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The id in an identity file's content, or undefined when it is empty, truncated or not an id. The final
 * newline is required: it is what tells a complete id from a truncated one (a prefix of an id is an id).
 */
export function parseIdentity(content: string): string | undefined {
  if (!content.endsWith('\n')) return undefined;
  const id = content.slice(0, -1);
  return sidecarId.safeParse(id).success ? id : undefined;
}

export function formatIdentity(id: string): string {
  return `${id}\n`;
}

/** The sidecar id an event payload was stamped with, to recover a lost identity file from the log. */
export function sidecarIdOfPayload(payload: Buffer): string | undefined {
  try {
    const event: unknown = JSON.parse(payload.toString('utf8'));
    const id =
      typeof event === 'object' && event !== null ? (event as { sidecar?: unknown }).sidecar : undefined;
    return typeof id === 'string' && sidecarId.safeParse(id).success ? id : undefined;
  } catch {
    return undefined;
  }
}
