import { AuditStoreError } from './errors.ts';
import { storeTime } from './time.ts';

/** What both stores take besides where the database is. */
export interface AuditStoreOptions {
  /**
   * The exporters each newly stored event is queued for (e.g. ['otlp', 'stdout']). An exporter added
   * later gets the events stored from then on; one removed keeps its queue until retention empties it.
   */
  readonly exporters?: readonly string[];
  /** The clock for ingest times (first seen, when a hole's neighbour was stored); tests pass their own. */
  readonly now?: () => Date;
}

export function checkedExporters(exporters: readonly string[] | undefined): ReadonlySet<string> {
  const names = new Set(exporters ?? []);
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(name)) {
      throw new AuditStoreError(
        'unknown_exporter',
        `exporter name ${JSON.stringify(name)} is not [a-z0-9_.-]{1,63}`,
      );
    }
  }
  return names;
}

export function requireExporter(exporters: ReadonlySet<string>, exporter: string): void {
  if (!exporters.has(exporter)) {
    throw new AuditStoreError(
      'unknown_exporter',
      `no exporter ${JSON.stringify(exporter)} is configured on this store`,
    );
  }
}

export function clockNow(now: (() => Date) | undefined): () => string {
  return () => storeTime((now?.() ?? new Date()).toISOString());
}
