import type { Logger } from 'pino';
import type { AuditEvent } from './event.ts';
import type { AuditShippingMetrics } from './shipper-metrics.ts';
import type { AuditSink } from './sink.ts';
import { WalError, WalRecordTooLargeError } from './wal/errors.ts';

/** The part of the write-ahead log the sink uses. */
export interface AppendableLog {
  appendBatched(event: AuditEvent): unknown;
  appendStrict(event: AuditEvent): Promise<unknown>;
  hasRoom(): boolean;
}

/**
 * The audit sink of a production sidecar: every event into the write-ahead log. Admission (hasRoom)
 * keeps headroom, so the events of calls already forwarded still fit when the log is nearly full.
 * An event too large for one record (Full arguments of a huge call) is kept without its arguments:
 * the digest still identifies them, and losing the whole event would be worse.
 */
export function walAuditSink(wal: AppendableLog, metrics: AuditShippingMetrics, log: Logger): AuditSink {
  const fitted = (event: AuditEvent, error: unknown): AuditEvent | undefined => {
    if (!(error instanceof WalRecordTooLargeError) || event.arguments === undefined) return undefined;
    const { arguments: _dropped, ...rest } = event;
    return {
      ...rest,
      reason: [event.reason, 'arguments too large to record; digest kept'].filter(Boolean).join('; '),
    };
  };
  const failed = (event: AuditEvent, error: unknown): false => {
    const reason = error instanceof WalError ? error.code : 'wal_io';
    metrics.writeFailures.inc({ reason });
    log.error(
      { err: error, eventId: event.id, kind: event.kind, requestId: event.requestId },
      'audit event not written',
    );
    return false;
  };
  return {
    durable: true,
    emit(event) {
      try {
        wal.appendBatched(event);
        return true;
      } catch (error) {
        const smaller = fitted(event, error);
        if (smaller === undefined) return failed(event, error);
        try {
          wal.appendBatched(smaller);
          return true;
        } catch (again) {
          return failed(smaller, again);
        }
      }
    },
    async emitDurable(event) {
      try {
        await wal.appendStrict(event);
      } catch (error) {
        const smaller = fitted(event, error);
        if (smaller === undefined) {
          failed(event, error);
          throw error;
        }
        await wal.appendStrict(smaller);
      }
    },
    hasRoom: () => wal.hasRoom(),
  };
}
