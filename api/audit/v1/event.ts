import { z } from 'zod';

/**
 * The audit event, version 1: one record per decision a sidecar makes, and per kill-switch and policy
 * change it observes. This schema is the contract between sidecars, the collector and SIEM exports; the
 * JSON Schema in docs/audit-event.schema.json is generated from it (`make crds`), and a test fails when
 * the two drift.
 *
 * Additive changes (a new optional field, a new enum member) keep `portcullis.dev/audit/v1`; anything else
 * is v2. Consumers must ignore fields they do not know: the collector stores the whole event as received.
 *
 * Identities come from verified claims. Never a token: not the client's, not a minted one; upstream
 * identity is recorded as mode and token id (jti) only.
 */
export const AUDIT_SCHEMA = 'portcullis.dev/audit/v1';

export const auditDecision = z
  .enum(['allowed', 'denied', 'killed', 'errored', 'would_deny', 'quarantined'])
  .describe(
    'allowed: forwarded. denied: refused by policy, identity, protocol or limits. killed: refused or cancelled by a kill switch. ' +
      'errored: allowed but failed in the sidecar or upstream. would_deny: allowed because the deciding policy is in audit mode. ' +
      'quarantined: a tool definition held back by pinning.',
  );
export type AuditDecision = z.infer<typeof auditDecision>;

export const auditKind = z
  .enum(['call', 'outcome', 'request', 'tool_contract', 'egress', 'kill_switch', 'policy'])
  .describe(
    'call: a tools/call decision (with its outcome, unless the decision was recorded before forwarding). ' +
      'outcome: how a call whose decision was made durable before forwarding (Strict durability) ended; same requestId and tool. ' +
      'request: a refused request that carried no tool call (a 401 on initialize). ' +
      'tool_contract: a tool definition seen, changed or quarantined. egress: an outbound connection of the server container. ' +
      'kill_switch: a kill switch engaged or released. policy: the policy bundle the sidecar serves changed.',
  );
export type AuditKind = z.infer<typeof auditKind>;

export const auditOutcome = z.enum(['ok', 'tool_error', 'upstream_error', 'timeout', 'cancelled', 'refused']);

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const egressAuditDetail = z.object({
  protocol: z.enum(['http', 'connect']),
  target: z.string().max(1024).describe('The authority as the client wrote it.'),
  host: z.string().max(1024).optional().describe('The normalised DNS name or IP address.'),
  port: z.int().min(0).max(65_535).optional(),
  address: z
    .string()
    .max(64)
    .optional()
    .describe('The resolved IP address connected to, or the one refused.'),
  rule: z
    .string()
    .max(1024)
    .optional()
    .describe('The egress rule that allowed it, host:<name> or cidr:<range>.'),
  bytesSent: z.int().min(0).optional(),
  bytesReceived: z.int().min(0).optional(),
});
export type EgressAuditDetail = z.infer<typeof egressAuditDetail>;

export const killSwitchAuditDetail = z.object({
  scope: z.enum(['server', 'tool', 'policy', 'namespace']),
  /** The tool name, ToolPolicy name, or namespace the switch covers; absent for the server itself. */
  target: z.string().max(256).optional(),
  state: z.enum(['engaged', 'released']),
  reason: z
    .string()
    .max(1024)
    .optional()
    .describe(
      'The switch\'s record, "who: why" (portcullis.dev/killed-by and kill-reason, or the tool\'s entry of killed-tools-reasons), when set.',
    ),
});
export type KillSwitchAuditDetail = z.infer<typeof killSwitchAuditDetail>;

/** Fields every producer fills; the WAL adds `sidecar` and `seq` when it appends. */
export const auditEventDraft = z.object({
  schema: z.literal(AUDIT_SCHEMA),
  id: z
    .uuid()
    .describe(
      'Event id the sidecar chose, for correlation. Not the idempotency key: that is (sidecar, seq), which ' +
        'the collector enforces and exports as portcullis.event_key; ids are not compared across sidecars.',
    ),
  kind: auditKind,
  time: z.iso.datetime({ offset: true }).describe('When the decision was made (RFC 3339).'),
  requestId: z.string().min(1).max(256).describe('The sidecar request id; egress open and close share one.'),
  server: z.object({ namespace: z.string().max(63), name: z.string().max(63) }),
  method: z
    .string()
    .max(256)
    .describe('The JSON-RPC method (tools/call), or egress, egress/closed, kill_switch, policy.'),
  tool: z.string().max(256).optional(),
  user: z.string().max(1024).optional().describe('The verified subject (token sub).'),
  agent: z.string().max(1024).optional().describe('The verified agent (client id / azp claim).'),
  tenant: z.string().max(1024).optional(),
  decision: auditDecision,
  code: z.string().max(128).optional().describe('Stable reason code (the sidecar reject table).'),
  reason: z.string().max(4096).optional(),
  rule: z.object({ policy: z.string().max(253), rule: z.string().max(63) }).optional(),
  policyHash: z.string().max(128).optional().describe('Hash of the policy bundle that decided.'),
  argumentsDigest: digest.optional().describe('sha256 of the canonical JSON of the arguments.'),
  arguments: z.unknown().optional().describe('The arguments, only when policy asks (Full or Redacted).'),
  toolDigest: z
    .string()
    .max(128)
    .optional()
    .describe('Digest of the tool definition the call was checked against.'),
  outcome: auditOutcome.optional(),
  latencyMs: z.number().min(0),
  sessionId: z.string().max(256).optional(),
  clientInfo: z
    .object({ name: z.string().max(256).optional(), version: z.string().max(256).optional() })
    .optional()
    .describe('Self-reported by the client: for investigation, never trusted.'),
  upstreamIdentity: z
    .object({ mode: z.string().max(64), tokenId: z.string().max(256).optional() })
    .optional()
    .describe(
      'How the upstream learned who called: the mode and the minted token id (jti), never the token.',
    ),
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional()
    .describe(
      "W3C trace id of the request: the trace the sidecar recorded it in (tracing on), else the client's " +
        '(a valid traceparent header, or params._meta from 2026-07-28). Absent when there is neither.',
    ),
  spanId: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional()
    .describe("The sidecar's span of the request, when tracing is on and the request was sampled."),
  egress: egressAuditDetail.optional(),
  killSwitch: killSwitchAuditDetail.optional(),
  policy: z
    .object({ previousHash: z.string().max(128).optional(), hash: z.string().max(128).optional() })
    .optional()
    .describe('kind policy: the bundle hash before and after.'),
});
export type AuditEventDraft = z.infer<typeof auditEventDraft>;

export const sidecarId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/)
  .describe('A sidecar WAL identity: stable across restarts that keep the WAL volume.');

export const auditEvent = auditEventDraft.extend({
  sidecar: sidecarId,
  seq: z.int().min(1).describe('Per-sidecar sequence number: 1, 2, 3, ... with no holes.'),
});
export type AuditEvent = z.infer<typeof auditEvent>;

/**
 * An event's identity, and so the idempotency key of every export (SIEM deliveries are at-least-once):
 * `<sidecar>/<seq>`. Not the event id: an id is text the sidecar chose, so any server could repeat another's,
 * while a sidecar id belongs to one server (claimed atomically in the collector's store) and its seqs are
 * assigned by its WAL. The collector stores one event per key and exports it under that key.
 */
export function auditEventKey(event: Pick<AuditEvent, 'sidecar' | 'seq'>): string {
  return `${event.sidecar}/${event.seq}`;
}
