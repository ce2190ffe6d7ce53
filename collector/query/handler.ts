import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { auditQuery, type AuditQuery } from '../../api/audit/v1/query.ts';
import { CollectorError, writeJson } from '../errors.ts';
import type { ByteBudget } from '../http/byte-budget.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { QUERY_PAGE_RESERVE_BYTES } from '../store/page-bytes.ts';
import { storeCall } from '../store-call.ts';
import type { AuditStore } from '../store/store.ts';
import type { QueryAuthorizer } from './authorize.ts';

export interface QueryContext {
  readonly store: AuditStore;
  readonly authorizer: QueryAuthorizer;
  readonly metrics: CollectorMetrics;
  /** Shared with ingest: a page held for its answer counts against the memory ceiling. */
  readonly budget: ByteBudget;
}

/** GET /v1/events?<AuditQuery>: one page of events, newest first unless order=asc. */
export async function handleEventsQuery(
  context: QueryContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<void> {
  const query = parseQuery(url.searchParams);
  await context.authorizer.authorize(request, query.namespace);
  if (!context.budget.tryReserve(QUERY_PAGE_RESERVE_BYTES)) {
    throw new CollectorError('busy', 'the collector answers as many queries as its memory allows; retry', {
      retryAfterSeconds: 1,
    });
  }
  try {
    const page = await storeCall(context.metrics, 'query', () => context.store.query(query));
    writeJson(response, 200, page);
  } finally {
    context.budget.release(QUERY_PAGE_RESERVE_BYTES);
  }
}

const sidecarsQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional() });

/** GET /v1/sidecars[?namespace=NS]: ingest progress and last report of every sidecar. */
export async function handleSidecarsQuery(
  context: QueryContext,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<void> {
  const parsed = sidecarsQuery.safeParse(singleValued(url.searchParams));
  if (!parsed.success) throw new CollectorError('invalid_query', z.prettifyError(parsed.error));
  const { namespace } = parsed.data;
  await context.authorizer.authorize(request, namespace);
  const sidecars = await storeCall(context.metrics, 'sidecars', () => context.store.sidecars());
  writeJson(response, 200, {
    sidecars: namespace === undefined ? sidecars : sidecars.filter((s) => s.namespace === namespace),
  });
}

/** The query parameters as an AuditQuery; a repeated or unknown parameter is an error, not ignored. */
export function parseQuery(params: URLSearchParams): AuditQuery {
  const parsed = auditQuery.safeParse(singleValued(params));
  if (!parsed.success) throw new CollectorError('invalid_query', z.prettifyError(parsed.error));
  return parsed.data;
}

function singleValued(params: URLSearchParams): Record<string, string> {
  const values = new Map<string, string>();
  for (const [key, value] of params) {
    if (values.has(key)) throw new CollectorError('invalid_query', `parameter ${key} is repeated`);
    values.set(key, value);
  }
  // fromEntries defines own properties, so a parameter named __proto__ is refused as unknown, not swallowed.
  return Object.fromEntries(values);
}
