import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { encodeCursor } from './rows.ts';
import type { AuditPage } from './store.ts';

/** Ingest-order cursors carry no time; the cursor format wants one. */
const NO_TIME = '1970-01-01T00:00:00.000000Z';

/**
 * One order=ingest page (api/audit/v1/query.ts). `next` is always there: at the last row of a full page,
 * else at `highest`, the highest ingest id the same snapshot held. Every row up to it was read (the page
 * was not full, so no row past the last one matched), and ingest ids become visible in ascending order in
 * both stores, so a follower polling from it neither repeats nor skips an event, and events the filter
 * did not match are not read again.
 */
export function ingestPage(
  rows: readonly { ingestId: number; event: AuditEvent }[],
  limit: number,
  highest: number,
): AuditPage {
  const page = rows.slice(0, limit);
  const events = page.map((row) => row.event);
  const last = page.at(-1);
  const position =
    rows.length > limit && last !== undefined ? last.ingestId : Math.max(highest, last?.ingestId ?? 0);
  return { events, next: encodeCursor({ time: NO_TIME, ingestId: position }) };
}
