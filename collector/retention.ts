import type { Logger } from 'pino';
import type { CollectorMetrics } from './metrics.ts';
import { every } from './periodic.ts';
import type { AuditStore } from './store/store.ts';

/**
 * Deletes events older than the retention period: at start, then every hour (or every tenth of the
 * period, when that is shorter). The store deletes their export queue entries with them.
 */
export function startRetention(options: {
  readonly store: AuditStore;
  readonly retentionMs: number;
  readonly metrics: CollectorMetrics;
  readonly log: Logger;
  readonly clock: () => number;
}): { stop(): Promise<void> } {
  const { store, retentionMs, metrics, log, clock } = options;
  return every(
    Math.max(1_000, Math.min(3_600_000, retentionMs / 10)),
    async () => {
      const before = new Date(clock() - retentionMs);
      const deleted = await store.deleteBefore(before);
      metrics.retentionDeleted.inc(deleted);
      if (deleted > 0)
        log.info({ deleted, before: before.toISOString() }, 'retention: deleted old audit events');
    },
    (error) => log.warn({ err: error }, 'retention: deleting old audit events failed; will retry'),
  );
}
