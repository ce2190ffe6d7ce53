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
  /** Issuer discovery + JWKS fetch attempts by result (ok, tls, unreachable, timeout, http, invalid). */
  readonly keyFetches: Counter<'result'>;
  /** Time spent in each pipeline stage (forward includes the upstream), when --stage-timings is on. */
  readonly stageDuration?: Histogram<'stage'>;
  /** A bounded label for a tool name: callers choose names, so unbounded labels would be a DoS. */
  toolLabel(name: string): string;
  /** Tool calls refused by a limit (limit: rate, budget, queue_full, queue_timeout, cancelled) by scope. */
  readonly limited: Counter<'limit' | 'scope'>;
  /** Feeds the in-flight, queue-depth and tracked-keys gauges, read at scrape time (no hot-path cost). */
  watchLimits(source: LimitGaugeSource): void;
}

/** What the limit gauges read when scraped (sidecar/limits/call-limiter.ts). */
export interface LimitGaugeSource {
  concurrency(): Iterable<{ scope: string; name: string; inFlight: number; queued: number }>;
  trackedKeys(): { rate: number; budget: number; concurrency: number };
}

const MAX_TOOL_LABELS = 256;

export function createSidecarMetrics(
  options: { defaultMetrics?: boolean; stageTimings?: boolean } = {},
): SidecarMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'portcullis_sidecar_' });
  const registers = [registry];
  const seenTools = new Set<string>();
  let limits: LimitGaugeSource | undefined;
  registerLimitGauges(registers, () => limits);
  return {
    watchLimits(source) {
      limits = source;
    },
    limited: new Counter({
      name: 'portcullis_limited_calls_total',
      help: 'Tool calls refused by a limit: limit=rate|budget|queue_full|queue_timeout|cancelled (gave up waiting), scope=server|rule|tool|subject|subject_tool|session.',
      labelNames: ['limit', 'scope'],
      registers,
    }),
    toolLabel(name) {
      if (seenTools.has(name)) return name;
      if (seenTools.size >= MAX_TOOL_LABELS) return '(other)';
      seenTools.add(name);
      return name;
    },
    registry,
    ...(options.stageTimings
      ? {
          stageDuration: new Histogram({
            name: 'portcullis_stage_duration_seconds',
            help: 'Time spent in each pipeline stage (forward includes the time the server takes).',
            labelNames: ['stage'],
            buckets: [
              0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
              0.0025, 0.01, 0.1,
            ],
            registers,
          }),
        }
      : {}),
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
    keyFetches: new Counter({
      name: 'portcullis_auth_key_fetches_total',
      help: "Fetches of the identity provider's signing keys (discovery + JWKS), by result: ok, tls (certificate not trusted: see spec.auth.caBundle), unreachable, timeout, http (a status other than 200), invalid (not a key set).",
      labelNames: ['result'],
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

/** Concurrency gauges by scope (server, or rule = policy/rule), computed from the limiter when scraped. */
function registerLimitGauges(registers: Registry[], source: () => LimitGaugeSource | undefined): void {
  const bySemaphore = (
    gauge: Gauge<'scope' | 'name'>,
    value: (s: { inFlight: number; queued: number }) => number,
  ) => {
    gauge.reset();
    for (const s of source()?.concurrency() ?? []) gauge.set({ scope: s.scope, name: s.name }, value(s));
  };
  new Gauge({
    name: 'portcullis_limit_in_flight',
    help: 'Tool calls holding a concurrency slot, by scope (server; rule with name = policy/rule).',
    labelNames: ['scope', 'name'],
    registers,
    collect() {
      bySemaphore(this, (s) => s.inFlight);
    },
  });
  new Gauge({
    name: 'portcullis_limit_queue_depth',
    help: 'Tool calls waiting for a concurrency slot, by scope (server; rule with name = policy/rule).',
    labelNames: ['scope', 'name'],
    registers,
    collect() {
      bySemaphore(this, (s) => s.queued);
    },
  });
  new Gauge({
    name: 'portcullis_limit_tracked_keys',
    help: 'Per-key limiter state held (kind=rate|budget|concurrency); bounded, least recently used forgotten first.',
    labelNames: ['kind'],
    registers,
    collect() {
      const tracked = source()?.trackedKeys();
      if (tracked === undefined) return;
      for (const kind of ['rate', 'budget', 'concurrency'] as const) this.set({ kind }, tracked[kind]);
    },
  });
}
