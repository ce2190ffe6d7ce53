import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's Prometheus metrics, on their own registry. */
export interface OperatorMetrics {
  readonly registry: Registry;
  readonly reconciles: Counter<'kind' | 'outcome'>;
  readonly reconcileDuration: Histogram<'kind'>;
  readonly queueDepth: Gauge;
  readonly retries: Counter<'kind'>;
  readonly leader: Gauge;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_operator_' });
  const registers = [registry];
  return {
    registry,
    reconciles: new Counter({
      name: 'portcullis_operator_reconciles_total',
      help: 'Reconciles by kind and outcome (ok, error, terminal).',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'portcullis_operator_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'portcullis_operator_queue_depth',
      help: 'Keys waiting to be reconciled.',
      registers,
    }),
    retries: new Counter({
      name: 'portcullis_operator_reconcile_retries_total',
      help: 'Reconciles scheduled again after an error.',
      labelNames: ['kind'],
      registers,
    }),
    leader: new Gauge({
      name: 'portcullis_operator_leader',
      help: '1 while this replica holds the Lease.',
      registers,
    }),
  };
}
