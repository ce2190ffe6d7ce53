import { Counter, Gauge, type Registry } from 'prom-client';

/** What the shipper and the WAL report (on the sidecar's admin registry). */
export interface AuditShippingMetrics {
  readonly shipped: Counter;
  readonly batches: Counter<'result'>;
  readonly lastAckedSeq: Gauge;
  readonly walBytes: Gauge;
  readonly walRecords: Gauge;
  /** Events that could not be written (WAL full or broken): each one a refused call or a lost egress/list record. */
  readonly writeFailures: Counter<'reason'>;
  /** --collector-ca-file reads: loaded (a new bundle in force) or invalid (refused; the old one stays). */
  readonly collectorCaReloads: Counter<'result'>;
}

export function createAuditShippingMetrics(registry: Registry): AuditShippingMetrics {
  const registers = [registry];
  return {
    shipped: new Counter({
      name: 'portcullis_audit_shipped_events_total',
      help: 'Audit events the collector acknowledged as durably stored.',
      registers,
    }),
    batches: new Counter({
      name: 'portcullis_audit_batches_total',
      help: 'Batches sent to the collector by result: ok, rejected (a 4xx), unavailable (5xx or network).',
      labelNames: ['result'],
      registers,
    }),
    lastAckedSeq: new Gauge({
      name: 'portcullis_audit_acked_seq',
      help: 'The highest sequence number the collector acknowledged.',
      registers,
    }),
    walBytes: new Gauge({
      name: 'portcullis_audit_wal_bytes',
      help: 'Bytes held by the audit write-ahead log (not yet acknowledged by the collector).',
      registers,
    }),
    walRecords: new Gauge({
      name: 'portcullis_audit_wal_pending_events',
      help: 'Events written to the write-ahead log and not yet acknowledged by the collector.',
      registers,
    }),
    writeFailures: new Counter({
      name: 'portcullis_audit_write_failures_total',
      help: 'Audit events that could not be written to the WAL, by reason (wal_full, wal_io).',
      labelNames: ['reason'],
      registers,
    }),
    collectorCaReloads: new Counter({
      name: 'portcullis_audit_collector_ca_reloads_total',
      help: 'Reads of --collector-ca-file with new content, by result: loaded (trusted for new connections) or invalid (unreadable or not a PEM bundle; the previous CA stays in force).',
      labelNames: ['result'],
      registers,
    }),
  };
}
