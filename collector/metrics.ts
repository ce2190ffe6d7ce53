import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The collector's Prometheus metrics, on their own registry (served on the metrics port only). Labels are
 * bounded: codes come from a fixed table, namespace/server and sidecar label sets are capped by the
 * monitor (collector/monitor/monitor.ts) and the rest folded into "(other)".
 */
export interface CollectorMetrics {
  readonly registry: Registry;
  /** Events by ingest result: accepted (newly stored) or duplicate (already stored, acknowledged again). */
  readonly ingestEvents: Counter<'result'>;
  /** Requests by endpoint (events, heartbeat, query, sidecars) and result code (ok or an error code). */
  readonly requests: Counter<'endpoint' | 'code'>;
  readonly tokenVerifications: Counter<'purpose' | 'result'>;
  readonly storeLockWaits: Counter;
  readonly storeDuration: Histogram<'operation' | 'result'>;
  readonly sidecarLag: Gauge<'namespace' | 'server' | 'sidecar'>;
  readonly gapEvents: Gauge<'namespace' | 'server'>;
  readonly gapsDetected: Counter<'kind'>;
  readonly sidecars: Gauge;
  readonly exportBacklog: Gauge<'exporter'>;
  readonly exportFailures: Counter<'exporter'>;
  readonly exportedEvents: Counter<'exporter'>;
  readonly retentionDeleted: Counter;
  /**
   * The serving certificate's notAfter. Not on the registry until the collector serves TLS: a gauge with
   * no labels reads 0 before it is set, which an expiry alert would take for a certificate long expired.
   */
  readonly tlsCertificateExpiry: Gauge;
}

export function createCollectorMetrics(options: { defaultMetrics?: boolean } = {}): CollectorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'portcullis_collector_' });
  const registers = [registry];
  return {
    registry,
    ingestEvents: new Counter({
      name: 'portcullis_collector_ingest_events_total',
      help: 'Audit events received, by result: accepted (newly stored) or duplicate (already stored; acknowledged again).',
      labelNames: ['result'],
      registers,
    }),
    storeLockWaits: new Counter({
      name: 'portcullis_collector_store_lock_waits_total',
      help: 'Times a SQLite write found the database locked by another connection and waited (off the event loop).',
      registers,
    }),
    tokenVerifications: new Counter({
      name: 'portcullis_collector_token_verifications_total',
      help: 'Bearer tokens verified past the cache (TokenReviews, or JWKS signature checks), by purpose (ingest, query) and result (ok, refused, unavailable).',
      labelNames: ['purpose', 'result'],
      registers,
    }),
    requests: new Counter({
      name: 'portcullis_collector_requests_total',
      help: 'Requests by endpoint (events = ingest batches, heartbeat, query, sidecars) and result code (ok or the error code).',
      labelNames: ['endpoint', 'code'],
      registers,
    }),
    storeDuration: new Histogram({
      name: 'portcullis_collector_store_duration_seconds',
      help: 'Time the audit store took, by operation (insert, heartbeat, query, ...) and result (ok, error).',
      labelNames: ['operation', 'result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    sidecarLag: new Gauge({
      name: 'portcullis_collector_sidecar_lag_events',
      help: 'Events a sidecar reported writing (heartbeat lastSeq) beyond the highest seq stored. At most 200 sidecars, the most lagging; the rest are summed under sidecar="(other)".',
      labelNames: ['namespace', 'server', 'sidecar'],
      registers,
    }),
    gapEvents: new Gauge({
      name: 'portcullis_collector_gap_events',
      help: 'Events missing (holes older than the grace period, and ranges reported lost) per server. At most 500 servers; the rest are summed under namespace="(other)".',
      labelNames: ['namespace', 'server'],
      registers,
    }),
    gapsDetected: new Counter({
      name: 'portcullis_collector_gaps_detected_total',
      help: 'Gaps newly detected, by kind: missing (a hole that did not fill within the grace period) or lost (reported by the sidecar).',
      labelNames: ['kind'],
      registers,
    }),
    sidecars: new Gauge({
      name: 'portcullis_collector_sidecars',
      help: 'Sidecars the store has seen.',
      registers,
    }),
    exportBacklog: new Gauge({
      name: 'portcullis_collector_export_backlog_events',
      help: 'Events stored but not yet exported, per exporter.',
      labelNames: ['exporter'],
      registers,
    }),
    exportFailures: new Counter({
      name: 'portcullis_collector_export_failures_total',
      help: 'Export attempts that failed (and will be retried), per exporter.',
      labelNames: ['exporter'],
      registers,
    }),
    exportedEvents: new Counter({
      name: 'portcullis_collector_exported_events_total',
      help: 'Events exported and acknowledged, per exporter (at least once: a retry may send an event again).',
      labelNames: ['exporter'],
      registers,
    }),
    retentionDeleted: new Counter({
      name: 'portcullis_collector_retention_deleted_events_total',
      help: 'Events deleted because they were older than the retention period.',
      registers,
    }),
    tlsCertificateExpiry: new Gauge({
      name: 'portcullis_collector_tls_certificate_expiry_seconds',
      help: 'When the serving certificate (--tls-cert-file, the leaf) expires, in seconds since the epoch; updated when a rotated certificate is installed. Absent without TLS.',
      registers: [],
    }),
  };
}
