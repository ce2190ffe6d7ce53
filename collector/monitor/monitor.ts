import type { Logger } from 'pino';
import type { CollectorMetrics } from '../metrics.ts';
import { every } from '../periodic.ts';
import type { AuditStore, Gap, SidecarState } from '../store/store.ts';
import { capLabels, GapTracker, OTHER } from './gap-tracker.ts';

/** Label sets exported at most: per server for gaps, per sidecar for lag. */
export const MAX_GAP_SERVERS = 500;
export const MAX_LAG_SIDECARS = 200;

export interface MonitorOptions {
  readonly store: AuditStore;
  readonly metrics: CollectorMetrics;
  readonly log: Logger;
  readonly clock: () => number;
  readonly intervalMs: number;
  /** Holes younger than this may still fill and are not reported yet. */
  readonly graceMs: number;
  readonly exporters: readonly string[];
}

/**
 * Looks at the evidence path every interval: sequence holes that did not fill within the grace period
 * and ranges sidecars reported lost (a warning each, once, and metrics), how far each sidecar's stored
 * events trail what it reported writing, and the export backlogs. A hole is reported at most
 * grace + interval after its newer neighbour was stored.
 */
export function startMonitor(options: MonitorOptions): { stop(): Promise<void> } {
  const tracker = new GapTracker();
  return every(
    options.intervalMs,
    () => tick(options, tracker),
    (error) => options.log.warn({ err: error }, 'audit monitor: the store could not be read'),
  );
}

async function tick(options: MonitorOptions, tracker: GapTracker): Promise<void> {
  const { store, metrics, log } = options;
  const [sidecars, gaps] = await Promise.all([
    store.sidecars(),
    store.gaps(new Date(options.clock() - options.graceMs)),
  ]);
  const bySidecar = new Map(sidecars.map((s) => [s.sidecar, s]));
  for (const gap of tracker.update(gaps)) {
    const state = bySidecar.get(gap.sidecar);
    metrics.gapsDetected.inc({ kind: gap.kind });
    log.warn(
      {
        sidecar: gap.sidecar,
        namespace: state?.namespace,
        server: state?.server,
        fromSeq: gap.fromSeq,
        toSeq: gap.toSeq,
        events: gap.toSeq - gap.fromSeq + 1,
        kind: gap.kind,
        ...(gap.reason ? { reason: gap.reason } : {}),
      },
      gap.kind === 'lost'
        ? 'audit events reported lost by the sidecar'
        : 'audit events missing: a sequence hole did not fill',
    );
  }
  setGapGauge(metrics, gaps, bySidecar);
  setLagGauge(metrics, sidecars);
  metrics.sidecars.set(sidecars.length);
  for (const exporter of options.exporters) {
    metrics.exportBacklog.set({ exporter }, await store.exportBacklog(exporter));
  }
}

function setGapGauge(
  metrics: CollectorMetrics,
  gaps: readonly Gap[],
  bySidecar: ReadonlyMap<string, SidecarState>,
): void {
  const perServer = new Map<string, { labels: { namespace: string; server: string }; value: number }>();
  for (const gap of gaps) {
    const state = bySidecar.get(gap.sidecar);
    const labels = { namespace: state?.namespace ?? OTHER, server: state?.server ?? OTHER };
    const key = `${labels.namespace}/${labels.server}`;
    const entry = perServer.get(key) ?? { labels, value: 0 };
    entry.value += gap.toSeq - gap.fromSeq + 1;
    perServer.set(key, entry);
  }
  metrics.gapEvents.reset();
  for (const { labels, value } of capLabels([...perServer.values()], MAX_GAP_SERVERS, {
    namespace: OTHER,
    server: OTHER,
  })) {
    metrics.gapEvents.set(labels, value);
  }
}

function setLagGauge(metrics: CollectorMetrics, sidecars: readonly SidecarState[]): void {
  const entries = sidecars.map((s) => ({
    labels: { namespace: s.namespace, server: s.server, sidecar: s.sidecar },
    value: Math.max(0, s.reportedSeq - s.highestSeq),
  }));
  metrics.sidecarLag.reset();
  for (const { labels, value } of capLabels(entries, MAX_LAG_SIDECARS, {
    namespace: OTHER,
    server: OTHER,
    sidecar: OTHER,
  })) {
    metrics.sidecarLag.set(labels, value);
  }
}
