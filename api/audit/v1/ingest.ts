import { z } from 'zod';
import { sidecarId } from './event.ts';

/**
 * The wire protocol between a sidecar's shipper and the collector.
 *
 *   POST /v1/events     Content-Type: application/x-ndjson; one AuditEvent per line, one sidecar per batch,
 *                       ascending seq. Headers: Authorization: Bearer <projected SA token, audience = the
 *                       collector's>, Portcullis-Sidecar: <sidecar id>.
 *                       200 + IngestAck only after the store committed every event of the batch; events
 *                       already stored (same sidecar and seq) count as duplicates and are acknowledged too.
 *                       400 malformed (typed error body), 401 token, 403 an event for a server the token is
 *                       not bound to, 413 batch too large, 422 unstorable_event (one event, named by the
 *                       error's `seq`, can never be stored: record it lost, ship the rest), 429/503 busy or
 *                       store unavailable (retry after Retry-After).
 *   POST /v1/heartbeat  application/json Heartbeat; 204.
 *
 * Errors are `{ "error": { "code": "...", "message": "..." } }` with stable codes (collector/errors.ts).
 */
export const INGEST_PATH = '/v1/events';
export const HEARTBEAT_PATH = '/v1/heartbeat';
export const SIDECAR_HEADER = 'portcullis-sidecar';

export const ingestAck = z.object({
  /** Events newly stored. */
  accepted: z.int().min(0),
  /** Events that were already stored (a retried batch): acknowledged, not stored twice. */
  duplicates: z.int().min(0),
  /** The highest seq of the batch: the shipper may delete everything up to it. */
  throughSeq: z.int().min(0),
});
export type IngestAck = z.infer<typeof ingestAck>;

/** The refusal body: a stable code, a message for people, and for unstorable_event the event's seq. */
export const ingestRefusal = z.object({
  error: z.object({ code: z.string(), message: z.string(), seq: z.int().min(1).optional() }),
});
export type IngestRefusal = z.infer<typeof ingestRefusal>;

/** The code of a refusal that no retry can turn into success for the event its `seq` names. */
export const UNSTORABLE_EVENT = 'unstorable_event';

export const heartbeat = z.object({
  sidecar: sidecarId,
  server: z.object({ namespace: z.string().max(63), name: z.string().max(63) }),
  /** The pod the sidecar runs in (from the downward API), for people; the token binds the identity. */
  pod: z.string().max(253).optional(),
  time: z.iso.datetime({ offset: true }),
  /** The highest seq the sidecar has written to its WAL: the collector sees gaps and lag against it. */
  lastSeq: z.int().min(0),
  /** The highest seq the collector has acknowledged to this sidecar. */
  ackedSeq: z.int().min(0),
  /** Ranges the sidecar knows are lost (a corrupted WAL record found on recovery), reported as gaps. */
  lost: z
    .array(z.object({ fromSeq: z.int().min(1), toSeq: z.int().min(1), reason: z.string().max(1024) }))
    .max(1024)
    .default([]),
  walBytes: z.int().min(0),
  /** The policy bundle hash the sidecar serves (McpServer status.servedPolicyHashes). */
  policyHash: z.string().max(128).optional(),
  /** Tools the sidecar sees upstream, with their definition digests (McpServer status.observedTools). */
  tools: z
    .array(z.object({ name: z.string().max(256), digest: z.string().max(128), state: z.string().max(32) }))
    .max(4096)
    .optional(),
});
export type Heartbeat = z.infer<typeof heartbeat>;
