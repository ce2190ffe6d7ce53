import { Counter, Gauge, type Registry } from 'prom-client';

/** Egress proxy metrics, registered on the sidecar's registry (served on the admin port). */
export interface EgressMetrics {
  /** Every decision: decision = allowed | denied | errored, code = ok or why it was refused. */
  readonly connections: Counter<'decision' | 'code'>;
  /** Allowed connections that ended: code = ok, or why they were closed (byte_limit, idle_timeout, ...). */
  readonly closed: Counter<'code'>;
  readonly bytes: Counter<'direction'>;
  readonly active: Gauge;
}

export function createEgressMetrics(registry: Registry): EgressMetrics {
  const registers = [registry];
  return {
    connections: new Counter({
      name: 'portcullis_egress_connections_total',
      help: 'Egress proxy decisions by decision (allowed, denied, errored) and code (ok, or why it was refused).',
      labelNames: ['decision', 'code'],
      registers,
    }),
    closed: new Counter({
      name: 'portcullis_egress_connections_closed_total',
      help: 'Allowed egress connections that ended, by code (ok, or why the proxy closed them: byte_limit, idle_timeout, revoked, ...).',
      labelNames: ['code'],
      registers,
    }),
    bytes: new Counter({
      name: 'portcullis_egress_bytes_total',
      help: 'Bytes through the egress proxy: direction=sent (server to destination) or received.',
      labelNames: ['direction'],
      registers,
    }),
    active: new Gauge({
      name: 'portcullis_egress_connections_active',
      help: 'Egress connections open now (bounded by spec.egress.maxConnections).',
      registers,
    }),
  };
}
