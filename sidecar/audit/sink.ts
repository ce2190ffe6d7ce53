import type { AuditEvent } from './event.ts';

/**
 * Where audit events go. This issue ships a structured-log sink; the durable WAL + shipper of the audit
 * pipeline implements the same interface.
 */
export interface AuditSink {
  emit(event: AuditEvent): void;
  flush?(): Promise<void>;
}

/** Writes each event as one JSON line through a logger (pino), tagged so log pipelines can route it. */
export function logAuditSink(logger: { info(object: object, message: string): void }): AuditSink {
  return {
    emit(event) {
      logger.info({ audit: event }, 'audit');
    },
  };
}

/** Keeps events in memory: for tests and `portcullis dev`, bounded so it cannot grow without limit. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  readonly #limit: number;

  constructor(limit = 100_000) {
    this.#limit = limit;
  }

  emit(event: AuditEvent): void {
    if (this.events.length >= this.#limit) this.events.shift();
    this.events.push(event);
  }
}
