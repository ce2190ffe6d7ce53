import { auditEvent, sidecarId, type AuditEvent } from '../../api/audit/v1/event.ts';
import { CollectorError } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses an ingest batch strictly: NDJSON, one AuditEvent per line (a final newline is allowed, no other
 * empty line), every line valid against the schema, every event from the sidecar the header names, seqs
 * strictly ascending. Any violation refuses the whole batch with an error naming the line, so nothing of
 * a malformed batch is stored. Events are returned as received (unknown fields kept: the schema is
 * additive, and the store keeps the event whole).
 */
export function parseBatch(body: Uint8Array, sidecarHeader: string | undefined): AuditEvent[] {
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
  const checked = auditEvent.safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new CollectorError(
      'malformed_batch',
      `line ${lineNumber}: not an AuditEvent (${where}${issue?.message ?? 'invalid'})`,
    );
  }
  // The value as received, not zod's copy: unknown (newer, additive) fields are kept.
  return value as AuditEvent;
}
