import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import type { FetchPage } from './audit-client.ts';

/** Events asked per request: large enough for few round trips, small enough to hold and print at once. */
export const PAGE_SIZE = 1_000;

/**
 * Up to `limit` events matching `query`, page by page through the collector's `next` cursors, each page
 * handed to `onPage` as it arrives so that only one page is held at a time. Stops at the limit, on the
 * last page (no `next`), or on an empty page that still names a cursor (a collector bug must not loop).
 */
export async function fetchUpTo(
  fetchPage: FetchPage,
  query: Omit<AuditQueryInput, 'limit' | 'after'>,
  limit: number,
  onPage: (events: readonly AuditEvent[]) => void,
  signal?: AbortSignal,
): Promise<void> {
  let remaining = limit;
  let after: string | undefined;
  while (remaining > 0) {
    const page = await fetchPage(
      {
        ...query,
        limit: Math.min(remaining, PAGE_SIZE),
        ...(after === undefined ? {} : { after }),
      },
      signal,
    );
    const events = page.events.length > remaining ? page.events.slice(0, remaining) : page.events;
    remaining -= events.length;
    if (events.length > 0) onPage(events);
    if (page.next === undefined || events.length === 0) return;
    after = page.next;
  }
}
