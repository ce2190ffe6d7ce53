import { sidecarId, type AuditEvent } from '../../api/audit/v1/event.ts';
import { exceedsJsonDepth } from '../../lib/json-depth.ts';
import { MAX_AUDIT_EVENT_BYTES, MAX_AUDIT_EVENT_DEPTH } from '../../lib/json-limits.ts';
import { CollectorError } from '../errors.ts';
import { compileEventValidator } from './event-validator.ts';
import { timeOutOfBounds, type TimeBounds } from './time-bounds.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Compiled when the collector loads, so a schema ajv cannot compile stops it at start-up. */
const validateEvent = compileEventValidator();

/**
 * Parses an ingest batch strictly: NDJSON, one AuditEvent per line (a final newline is allowed, no other
 * empty line), every line valid against the schema, every event from the sidecar the header names, seqs
 * strictly ascending. Any violation refuses the whole batch with an error naming the line, so nothing of
 * a malformed batch is stored. Events are returned as received (unknown fields kept: the schema is
 * additive, and the store keeps the event whole).
 *
 * An event that is valid but can never be stored, deeper than MAX_AUDIT_EVENT_DEPTH or larger than
 * MAX_AUDIT_EVENT_BYTES (lib/json-limits.ts), refuses the batch as unstorable_event naming its seq: no
 * retry would ever succeed, so the shipper records that seq as lost and ships the rest. Before this bound
 * such an event made the store's JSON.stringify throw, answered as a retryable 503, forever. So is an event
 * whose time is out of `timeBounds` (time-bounds.ts).
 */
export function parseBatch(
  body: Uint8Array,
  sidecarHeader: string | undefined,
  timeBounds?: TimeBounds,
): AuditEvent[] {
  if (sidecarHeader === undefined || !sidecarId.safeParse(sidecarHeader).success) {
    throw new CollectorError(
      'invalid_header',
      'the Portcullis-Sidecar header must name the sidecar ([A-Za-z0-9._-]{1,128})',
    );
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new CollectorError('malformed_batch', 'the batch is not valid UTF-8');
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new CollectorError('empty_batch', 'the batch holds no events');
  const events: AuditEvent[] = [];
  let previousSeq = 0;
  for (const [index, line] of lines.entries()) {
    const lineNumber = index + 1;
    const event = parseLine(line, lineNumber);
    if (event.sidecar !== sidecarHeader) {
      throw new CollectorError(
        'sidecar_mismatch',
        `line ${lineNumber}: event of sidecar ${JSON.stringify(event.sidecar)} in a batch of ${JSON.stringify(sidecarHeader)} (one sidecar per batch)`,
      );
    }
    if (event.seq <= previousSeq) {
      throw new CollectorError(
        'seq_order',
        `line ${lineNumber}: seq ${event.seq} after ${previousSeq} (seqs must be strictly ascending)`,
      );
    }
    previousSeq = event.seq;
    checkStorable(line, lineNumber, event, timeBounds);
    events.push(event);
  }
  return events;
}

function parseLine(line: string, lineNumber: number): AuditEvent {
  if (line.trim() === '') throw new CollectorError('malformed_batch', `line ${lineNumber}: empty line`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new CollectorError('malformed_batch', `line ${lineNumber}: not JSON (${(error as Error).message})`);
  }
  const problem = validateEvent(value);
  if (problem !== undefined) {
    const where = problem.path === '' ? '' : `${problem.path}: `;
    throw new CollectorError(
      'malformed_batch',
      `line ${lineNumber}: not an AuditEvent (${where}${problem.message})`,
    );
  }
  // The value as received (the validator never changes it): unknown (newer, additive) fields are kept.
  return value as AuditEvent;
}

/** Refuses an event of this batch's sidecar that can never be stored, naming its seq. */
function checkStorable(line: string, lineNumber: number, event: AuditEvent, bounds?: TimeBounds): void {
  const problem = unstorable(line, event, bounds);
  if (problem === undefined) return;
  throw new CollectorError(
    'unstorable_event',
    `line ${lineNumber}: event seq ${event.seq} ${problem}; it can never be stored (record it as lost)`,
    { seq: event.seq },
  );
}

function unstorable(line: string, event: AuditEvent, bounds?: TimeBounds): string | undefined {
  // Measured on the text: a recursive walk of a hostile value could itself exhaust the stack.
  if (exceedsJsonDepth(line, MAX_AUDIT_EVENT_DEPTH)) {
    return `nests deeper than ${MAX_AUDIT_EVENT_DEPTH} levels`;
  }
  if (line.length > MAX_AUDIT_EVENT_BYTES / 3 && Buffer.byteLength(line) > MAX_AUDIT_EVENT_BYTES) {
    return `is larger than ${MAX_AUDIT_EVENT_BYTES} bytes`;
  }
  return bounds === undefined ? undefined : timeOutOfBounds(event.time, bounds);
}
