import type { AuditEvent } from './event.ts';

/**
 * Where audit events go. Production sidecars write to the write-ahead log (wal-sink.ts), which a
 * shipper drains to the collector; without a WAL (development, file policy) events go to the log.
 */
export interface AuditSink {
  /**
   * Whether emitDurable is stronger than emit (a write-ahead log). Without it, recording a strict
   * call's decision ahead of its outcome would only split one event in two.
   */
  readonly durable: boolean;
  /**
   * Batched durability: the event is in the operating system's hands (it survives the process being
   * killed) when this returns, and on disk within the sync interval. Never throws: an event that cannot
   * be written is counted and logged by the sink, and false is returned.
   */
  emit(event: AuditEvent): boolean;
  /** Strict durability: resolves once the event is on disk; rejects (typed) when it cannot be written. */
  emitDurable(event: AuditEvent): Promise<void>;
  /** Whether there is room for the events of one more forwarded call (admission, before forwarding). */
  hasRoom(): boolean;
  flush?(): Promise<void>;
}

/** Writes each event as one JSON line through a logger (pino), tagged so log pipelines can route it. */
export function logAuditSink(logger: { info(object: object, message: string): void }): AuditSink {
  const emit = (event: AuditEvent) => {
    logger.info({ audit: event }, 'audit');
    return true;
  };
  return {
    durable: false,
    emit,
    emitDurable: (event) => Promise.resolve(void emit(event)),
    hasRoom: () => true,
  };
}

/** Keeps events in memory: for tests and `portcullis dev`, bounded so it cannot grow without limit. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  readonly durable = false;
  readonly #limit: number;

  constructor(limit = 100_000) {
    this.#limit = limit;
  }

  emit(event: AuditEvent): boolean {
    if (this.events.length >= this.#limit) this.events.shift();
    this.events.push(event);
    return true;
  }

  emitDurable(event: AuditEvent): Promise<void> {
    this.emit(event);
    return Promise.resolve();
  }

  hasRoom(): boolean {
    return true;
  }
}
