import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { encodeCursor } from './rows.ts';
import type { AuditPage } from './store.ts';

/** Ingest-order cursors carry no time; the cursor format wants one. */
const NO_TIME = '1970-01-01T00:00:00.000000Z';

/**
 * One order=ingest page (api/audit/v1/query.ts). `next` is always there: at the last row of a full page
 * (by rows or by bytes),
 * else at `highest`, the highest ingest id the same snapshot held. Every row up to it was read (the page
 * was not full, so no row past the last one matched), and ingest ids become visible in ascending order in
 * both stores, so a follower polling from it neither repeats nor skips an event, and events the filter
 * did not match are not read again.
 */
export function ingestPage(
  rows: readonly { ingestId: number; event: AuditEvent }[],
  limit: number,
  highest: number,
  /** Rows past the page were left (it ended on bytes, page-bytes.ts, or the caller sliced it). */
  full = false,
): AuditPage {
  const page = rows.slice(0, limit);
  const events = page.map((row) => row.event);
  const last = page.at(-1);
  const ended = (rows.length > limit || full) && last !== undefined;
  const position = ended ? last.ingestId : Math.max(highest, last?.ingestId ?? 0);
  return { events, next: encodeCursor({ time: NO_TIME, ingestId: position }) };
}
