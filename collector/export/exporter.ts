import type { AuditEvent } from '../../api/audit/v1/event.ts';

/** A SIEM destination. The pump (export/pump.ts) feeds it from the store's export queue. */
export interface EventExporter {
  /** The export queue's name in the store (stdout, otlp). */
  readonly name: string;
  /**
   * Resolves once the destination accepted every event; throws otherwise (the pump retries the same
   * events later, so a destination may see an event twice: (sidecar, seq) is the idempotency key,
   * api/audit/v1/event.ts auditEventKey, never the event id).
   */
  send(events: readonly AuditEvent[]): Promise<void>;
}

/** A failed export the destination asked to retry no sooner than retryAfterMs. */
export class ExportError extends Error {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExportError';
    this.retryAfterMs = retryAfterMs;
  }
}
