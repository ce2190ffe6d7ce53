import { createHash } from 'node:crypto';
import { canonicalJson } from '../../policy/hash.ts';

/**
 * One audit event per decision. Identities come from verified claims; clientInfo is recorded for
 * investigation but never trusted. Arguments appear only as a digest unless policy asks otherwise.
 * Never a token: not the client's, not a minted one.
 */
export type AuditDecision = 'allowed' | 'denied' | 'killed' | 'errored' | 'would_deny' | 'quarantined';

export interface AuditEvent {
  readonly schema: 'portcullis.dev/audit/v1';
  readonly id: string;
  readonly time: string;
  readonly requestId: string;
  readonly server: { readonly namespace: string; readonly name: string };
  readonly method: string;
  readonly tool?: string;
  readonly user?: string;
  readonly agent?: string;
  readonly tenant?: string;
  readonly decision: AuditDecision;
  readonly code?: string;
  readonly reason?: string;
  readonly rule?: { readonly policy: string; readonly rule: string };
  readonly policyHash?: string;
  readonly argumentsDigest?: string;
  readonly arguments?: unknown;
  /** The digest of the tool definition the call was checked against, or that was observed (tool contracts). */
  readonly toolDigest?: string;
  readonly outcome?: 'ok' | 'tool_error' | 'upstream_error' | 'timeout' | 'cancelled' | 'refused';
  readonly latencyMs: number;
  readonly sessionId?: string;
  readonly clientInfo?: { readonly name?: string; readonly version?: string };
  readonly upstreamIdentity?: { readonly mode: string; readonly tokenId?: string };
  /** Methods 'egress' (a decision) and 'egress/closed' (its end): the server container's egress proxy. */
  readonly egress?: EgressAuditDetail;
}

export interface EgressAuditDetail {
  readonly protocol: 'http' | 'connect';
  /** The authority as the client wrote it. */
  readonly target: string;
  /** The normalised DNS name or IP address. */
  readonly host?: string;
  readonly port?: number;
  /** The resolved IP address connected to, or the one refused. */
  readonly address?: string;
  /** The egress rule that allowed it, `host:<name>` or `cidr:<range>`. */
  readonly rule?: string;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
}

export function argumentsDigest(args: unknown): string {
  return `sha256:${createHash('sha256')
    .update(canonicalJson(args ?? {}))
    .digest('hex')}`;
}

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
