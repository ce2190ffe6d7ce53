import type { Logger } from 'pino';
import type { CollectorMetrics } from '../metrics.ts';
import type { AuditStore } from '../store/store.ts';
import { backoffDelay } from '../../lib/backoff.ts';
import { ExportError, type EventExporter } from './exporter.ts';

export interface PumpOptions {
  readonly store: AuditStore;
  readonly exporter: EventExporter;
  readonly metrics: CollectorMetrics;
  readonly log: Logger;
  /** Events per send. */
  readonly batchSize?: number;
  /** How often an empty queue is looked at again when no ingest wakes the pump. */
  readonly idleMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly random?: () => number;
}

export interface ExportPump {
  /** New events were stored: look at the queue now. */
  wake(): void;
  /** Stops after the send in progress (if any) ends; acknowledged events stay acknowledged. */
  stop(): Promise<void>;
}

/**
 * At-least-once export: read the oldest queued events, send them, and only after the destination
 * accepted them remove them from the store's queue. A failure (or a crash between send and ack) sends
 * the same events again after a backoff; nothing leaves the queue unexported, however long the
 * destination is down (the backlog metric shows it).
 */
export function startExportPump(options: PumpOptions): ExportPump {
  const { store, exporter, metrics, log } = options;
  const name = exporter.name;
  const batchSize = options.batchSize ?? 500;
  const idleMs = options.idleMs ?? 1_000;
  const backoff = options.backoff ?? { baseMs: 200, maxMs: 30_000 };
  const random = options.random ?? Math.random;
  let stopped = false;
  // Pending wake-up: set by wake() while the pump is busy, so the next idle sleep is skipped.
  let woken = false;
  let interrupt: ((byWake: boolean) => void) | undefined;

  /** Sleeps ms; stop() always cuts it short, wake() only when `wakeable` (idle, not backing off). */
  const sleep = (ms: number, wakeable: boolean) =>
    new Promise<void>((resolve) => {
      if (stopped || (wakeable && woken)) {
        woken = false;
        return resolve();
      }
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        interrupt = undefined;
        resolve();
      }
      interrupt = (byWake) => {
        if (!byWake || wakeable) finish();
        else woken = true;
      };
    });

  const loop = async () => {
    let failures = 0;
    const retryLater = async (error: unknown, what: string) => {
      failures += 1;
      metrics.exportFailures.inc({ exporter: name });
      const delay = backoffDelay(failures, {
        ...backoff,
        random,
        retryAfterMs: error instanceof ExportError ? error.retryAfterMs : undefined,
      });
      log.warn(
        { exporter: name, err: error, attempt: failures, retryInMs: delay },
        `export: ${what} failed; retrying`,
      );
      await sleep(delay, false);
    };
    while (!stopped) {
      let pending;
      try {
        pending = await store.pendingExport(name, batchSize);
      } catch (error) {
        await retryLater(error, 'reading the export queue');
        continue;
      }
      if (pending.length === 0) {
        await sleep(idleMs, true);
        continue;
      }
      try {
        await exporter.send(pending.map((p) => p.event));
      } catch (error) {
        await retryLater(error, `sending ${pending.length} events`);
        continue;
      }
      try {
        await store.ackExport(
          name,
          pending.map((p) => p.entry),
        );
      } catch (error) {
        // Sent but not acknowledged: they go out again (at least once).
        await retryLater(error, 'acknowledging sent events');
        continue;
      }
      failures = 0;
      metrics.exportedEvents.inc({ exporter: name }, pending.length);
    }
  };
  const running = loop();

  return {
    wake() {
      if (interrupt) interrupt(true);
      else woken = true;
    },
    async stop() {
      stopped = true;
      interrupt?.(false);
      await running;
    },
  };
}
