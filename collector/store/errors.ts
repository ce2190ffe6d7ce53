/**
 * Why a store call failed, as a stable code the collector maps to HTTP statuses:
 *   invalid_event       an event the store cannot keep (a time it cannot parse, a seq below 1); nothing of
 *                       the batch is stored. The ingest handler validated the schema already; this is the
 *                       store's own last line, so a bug upstream cannot half-store a batch.
 *   foreign_sidecar     the sidecar id belongs to another server (the first to use it claimed it, atomically
 *                       in the store): nothing of the batch or heartbeat is stored.
 *   invalid_cursor      `after` is not a cursor this store issued.
 *   unknown_exporter    an exporter name not configured on the store.
 *   unavailable         the database could not be reached or refused the call (the collector answers 503).
 */
export type AuditStoreErrorCode =
  'invalid_event' | 'foreign_sidecar' | 'invalid_cursor' | 'unknown_exporter' | 'unavailable';

export class AuditStoreError extends Error {
  readonly code: AuditStoreErrorCode;

  constructor(code: AuditStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditStoreError';
    this.code = code;
  }
}
