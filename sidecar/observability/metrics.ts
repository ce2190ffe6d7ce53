import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The sidecar's Prometheus metrics, on their own registry (served on the admin port only). */
export interface SidecarMetrics {
  readonly registry: Registry;
  readonly calls: Counter<'tool' | 'decision'>;
  readonly refusals: Counter<'code'>;
  readonly latency: Histogram<'decision'>;
  readonly inFlight: Gauge;
  readonly policyInfo: Gauge<'hash'>;
  readonly policyLoadedAt: Gauge;
  readonly policyErrors: Counter;
  readonly killSwitch: Gauge<'scope'>;
  /** A bounded label for a tool name: callers choose names, so unbounded labels would be a DoS. */
  toolLabel(name: string): string;
}

const MAX_TOOL_LABELS = 256;

export function createSidecarMetrics(options: { defaultMetrics?: boolean } = {}): SidecarMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'portcullis_sidecar_' });
  const registers = [registry];
  const seenTools = new Set<string>();
  return {
    toolLabel(name) {
      if (seenTools.has(name)) return name;
      if (seenTools.size >= MAX_TOOL_LABELS) return '(other)';
      seenTools.add(name);
      return name;
    },
    registry,
    calls: new Counter({
      name: 'portcullis_tool_calls_total',
      help: 'tools/call requests by tool and decision (allowed, denied, killed, errored, would_deny).',
      labelNames: ['tool', 'decision'],
      registers,
    }),
    refusals: new Counter({
      name: 'portcullis_refusals_total',
      help: 'Requests refused, by stable refusal code.',
      labelNames: ['code'],
      registers,
    }),
    latency: new Histogram({
      name: 'portcullis_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, by decision.',
      labelNames: ['decision'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    inFlight: new Gauge({
      name: 'portcullis_requests_in_flight',
      help: 'Requests being handled.',
      registers,
    }),
    policyInfo: new Gauge({
      name: 'portcullis_policy_info',
      help: 'The policy bundle in force (value 1), labelled by its hash.',
      labelNames: ['hash'],
      registers,
    }),
    policyLoadedAt: new Gauge({
      name: 'portcullis_policy_loaded_timestamp_seconds',
      help: 'When the policy in force was installed (age = time() - this).',
      registers,
    }),
    policyErrors: new Counter({
      name: 'portcullis_policy_update_errors_total',
      help: 'Policy updates refused (the last good policy stayed in force).',
      registers,
    }),
    killSwitch: new Gauge({
      name: 'portcullis_kill_switch_engaged',
      help: 'Kill switches in force: scope=server (1 or 0), scope=tools (killed tool count), scope=policies (killed policy count).',
      labelNames: ['scope'],
      registers,
    }),
  };
}
