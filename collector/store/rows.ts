import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { AuditStoreError } from './errors.ts';
import { storeTime } from './time.ts';

/** The columns an event is filtered and ordered by; the event itself is kept whole in `body`. */
export interface EventRow {
  readonly sidecar: string;
  readonly seq: number;
  readonly id: string;
  /** storeTime(event.time). */
  readonly time: string;
  readonly namespace: string;
  readonly server: string;
  readonly tool: string | null;
  readonly user: string | null;
  readonly agent: string | null;
  readonly tenant: string | null;
  readonly decision: string;
  readonly kind: string;
  readonly code: string | null;
  readonly policyHash: string | null;
  readonly requestId: string;
  /** The event exactly as received, as JSON text. */
  readonly body: string;
}

/**
 * The row for one event. The ingest handler validated the event against the schema; this checks only
 * what the store itself relies on, so that a bug upstream is refused instead of stored half-indexed.
 */
export function eventRow(event: AuditEvent): EventRow {
  if (typeof event.sidecar !== 'string' || event.sidecar === '') throw invalid(event, 'has no sidecar');
  if (!Number.isSafeInteger(event.seq) || event.seq < 1) throw invalid(event, 'has a seq below 1');
  if (typeof event.server?.namespace !== 'string' || typeof event.server.name !== 'string') {
    throw invalid(event, 'names no server');
  }
  return {
    sidecar: event.sidecar,
    seq: event.seq,
    id: requiredText(event, 'id'),
    time: storeTime(event.time),
    namespace: columnText(event.server.namespace),
    server: columnText(event.server.name),
    tool: optionalText(event.tool),
    user: optionalText(event.user),
    agent: optionalText(event.agent),
    tenant: optionalText(event.tenant),
    decision: requiredText(event, 'decision'),
    kind: requiredText(event, 'kind'),
    code: optionalText(event.code),
    policyHash: optionalText(event.policyHash),
    requestId: requiredText(event, 'requestId'),
    body: JSON.stringify(event),
  };
}

/**
 * A string as a filter column holds it. PostgreSQL text cannot hold U+0000, which the schema does not
 * forbid in user, tool, reason...; both stores map it to U+FFFD in columns and in query filters alike, so
 * such an event is stored (never a batch refused forever) and found. A lone surrogate, which UTF-8 cannot
 * encode, both drivers bind as U+FFFD, in columns and filters alike (a test pins it for the SQLite store's
 * dictionary, where two such strings share one key). The body keeps the original.
 */
export function columnText(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

function requiredText(event: AuditEvent, field: 'id' | 'decision' | 'kind' | 'requestId'): string {
  const value: unknown = event[field];
  if (typeof value !== 'string') throw invalid(event, `has no ${field}`);
  return columnText(value);
}

function optionalText(value: string | undefined): string | null {
  return typeof value === 'string' ? columnText(value) : null;
}

function invalid(event: AuditEvent, problem: string): AuditStoreError {
  const who = `event ${String(event.id)} (sidecar ${String(event.sidecar)}, seq ${String(event.seq)})`;
  return new AuditStoreError('invalid_event', `${who} ${problem}`);
}

/**
 * A batch's rows: the first of each (sidecar, seq), as a batch may repeat an event and the store keeps it
 * once. (sidecar, seq) is an event's identity (api/audit/v1/event.ts auditEventKey); ids are not compared,
 * within a batch or across batches. Refusing a repeated id once made a batch that could never succeed,
 * retried forever; and a unique index on a random key dirties one index page per event (~40% of SQLite
 * ingest when measured). See docs/DESIGN.md, "Event identity".
 */
export function batchRows(events: readonly AuditEvent[]): EventRow[] {
  const rows = events.map(eventRow);
  return isOneAscendingRun(rows) ? rows : firstOfEach(rows);
}

/**
 * Whether the rows are one sidecar's with strictly ascending seqs, so none repeats: every batch the ingest
 * endpoint accepts is (parse-batch.ts refuses others), and this check costs less than keying each row.
 */
function isOneAscendingRun(rows: readonly EventRow[]): boolean {
  for (let at = 1; at < rows.length; at++) {
    const row = rows[at] as EventRow;
    const previous = rows[at - 1] as EventRow;
    if (row.sidecar !== previous.sidecar || row.seq <= previous.seq) return false;
  }
  return true;
}

function firstOfEach(rowsWithRepeats: readonly EventRow[]): EventRow[] {
  const seen = new Set<string>();
  const rows: EventRow[] = [];
  for (const row of rowsWithRepeats) {
    const key = `${row.sidecar}\n${row.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(row);
  }
  return rows;
}

export function groupBySidecar(rows: readonly EventRow[]): EventRow[][] {
  const groups = new Map<string, EventRow[]>();
  for (const row of rows) {
    const group = groups.get(row.sidecar);
    if (group === undefined) groups.set(row.sidecar, [row]);
    else group.push(row);
  }
  return [...groups.values()];
}

/** Where a page ended: the (time, ingest id) of its last event. Opaque to clients. */
export interface Cursor {
  readonly time: string;
  readonly ingestId: number;
}

const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\/(\d{1,16})$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.time}/${cursor.ingestId}`).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  const match = CURSOR.exec(Buffer.from(text, 'base64url').toString('utf8'));
  const ingestId = Number(match?.[2]);
  if (match?.[1] === undefined || !Number.isSafeInteger(ingestId)) {
    throw new AuditStoreError('invalid_cursor', 'the cursor `after` was not issued by this store');
  }
  return { time: match[1], ingestId };
}
