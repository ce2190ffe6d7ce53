import { z } from 'zod';
import { auditDecision, auditKind } from './event.ts';

/**
 * The collector's query API: GET /v1/events?<AuditQuery as query parameters>, answered with
 * AuditPage. Results are newest first unless `order=asc`. `after` is the opaque cursor of the previous
 * page's `next`.
 *
 * `order=ingest` is for followers: ascending by the collector-assigned ingest sequence, never by the
 * event's own (client-supplied) time, so an event dated far ahead cannot move a follower's position past
 * events still to come. `next` is then present on every page, the last one too (the position up to which
 * the store was read, in the same snapshot): a follower polls with it, and a page shorter than `limit`
 * means it has caught up.
 */
export const EVENTS_QUERY_PATH = '/v1/events';
export const SIDECARS_PATH = '/v1/sidecars';

export const auditQuery = z.strictObject({
  user: z.string().max(1024).optional(),
  agent: z.string().max(1024).optional(),
  tenant: z.string().max(1024).optional(),
  tool: z.string().max(256).optional(),
  server: z.string().max(63).optional(),
  namespace: z.string().max(63).optional(),
  decision: auditDecision.optional(),
  kind: auditKind.optional(),
  /** Inclusive lower bound on event time (RFC 3339). */
  since: z.iso.datetime({ offset: true }).optional(),
  /** Exclusive upper bound on event time (RFC 3339). */
  until: z.iso.datetime({ offset: true }).optional(),
  order: z.enum(['asc', 'desc', 'ingest']).default('desc'),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  after: z.string().max(256).optional(),
});
export type AuditQuery = z.output<typeof auditQuery>;
export type AuditQueryInput = z.input<typeof auditQuery>;
