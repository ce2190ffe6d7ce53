/**
 * The audit's cost on the sidecar's hot path, in one run, at one offered open-loop rate, with bench/sidecar's
 * process layout (upstream, sidecars, collector each their own process; the load generator is this one):
 *
 *   direct        straight to the upstream
 *   log-sink      sidecar, audit events to the log sink (no --audit-wal), --log-level warn: the events are
 *                 built and handed to the logger, which drops them (the log line is not the cost measured)
 *   log-sink-info the same at --log-level info: every event a JSON line (stdout to /dev/null); what
 *                 bench-sidecar's "default" pays; informational
 *   wal-batched   --audit-wal, spec.audit.durability Batched, shipping to a real collector (SQLite)
 *   wal-strict    --audit-wal, spec.audit.durability Strict (each call waits for its decision's fsync)
 *   wal-batched-linger0  wal-batched with --audit-linger-ms 0: the shipper without its linger (as before
 *                 issue #14), sending whatever each 5 ms group commit made durable; wal-batched has the
 *                 default linger (100 ms)
 *
 * Every sidecar runs with --stage-timings. The configurations are measured in rounds, each round every
 * configuration once back to back in a rotated order; per round the added latency is paired against that
 * round's direct run, and the reported figure is the median over rounds (drift on a shared machine moves
 * both halves of a pair together). Also per configuration: CPU seconds per call of the sidecar and of the
 * collector (not disturbed by other people's load the way wall-clock latency is), the record-decision
 * stage's mean, and how the shipper batched.
 */
import { echoCall } from '../sidecar/echo-call.ts';
import { durabilityPolicy } from '../fixtures/durability-policy.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwksOf, signingKey } from '../../test/fixtures/auth/signing-keys.ts';
import { startJsonServer } from '../../test/fixtures/auth/json-server.ts';
import { openLoop, type LatencySummary, type Target } from '../sidecar/load.ts';
import { sidecarWalArgs, startCollectorProcess, type ServiceAccountIssuer } from './collector.ts';
import {
  CLI_MAIN,
  CpuWindow,
  firstLine,
  freePort,
  promSamples,
  promValue,
  round1,
  round2,
  scrape,
  spawnChild,
  waitReady,
  type Child,
} from './support.ts';

export interface HotPathSettings {
  readonly rate: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly warmupSeconds: number;
  /** Also the diagnostic configuration (the log sink at info). */
  readonly diagnostics: boolean;
  /** BENCH_AUDIT_CONFIGS: only these sidecar configurations (direct always runs: the pairing needs it). */
  readonly only?: readonly string[];
  /**
   * PORTCULLIS_BASELINE_MAIN (`make bench-audit BASELINE=<rev>`): that build's sidecar runs too, as the
   * configuration wal-batched-baseline, so a change's before and after share one run's machine.
   */
  readonly baselineMain?: string;
  /** BENCH_SIDECAR_NODE_FLAGS: node flags for every sidecar (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof). */
  readonly sidecarNodeFlags?: readonly string[];
}

interface SidecarConfiguration {
  readonly name: string;
  readonly durability: 'Batched' | 'Strict';
  readonly wal: boolean;
  readonly logLevel: 'warn' | 'info';
  readonly role: string;
  readonly extraArgs?: readonly string[];
  /** The sidecar build to run, when not this one (the baseline). */
  readonly main?: string;
  /** Not one of (a)-(d): measured for explanation, left out with BENCH_AUDIT_DIAGNOSTIC=0. */
  readonly diagnostic?: boolean;
}

const CONFIGURATIONS: readonly SidecarConfiguration[] = [
  {
    name: 'log-sink',
    durability: 'Batched',
    wal: false,
    logLevel: 'warn',
    role: '(b) audit to the log sink, log level warn: events built, the logger drops them',
  },
  {
    name: 'log-sink-info',
    durability: 'Batched',
    wal: false,
    logLevel: 'info',
    role: 'informational: the log sink at info, one JSON line per event to /dev/null (bench-sidecar default)',
    diagnostic: true,
  },
  {
    name: 'wal-batched',
    durability: 'Batched',
    wal: true,
    logLevel: 'warn',
    role: '(c) --audit-wal, durability Batched, shipping to a real collector (SQLite)',
  },
  {
    name: 'wal-strict',
    durability: 'Strict',
    wal: true,
    logLevel: 'warn',
    role: '(d) --audit-wal, durability Strict, shipping to a real collector (SQLite)',
  },
  {
    name: 'wal-batched-linger0',
    durability: 'Batched',
    wal: true,
    logLevel: 'warn',
    role: 'before: (c) with --audit-linger-ms 0, the shipper as it was before the linger (ships whatever the 5 ms group commit made durable)',
    extraArgs: ['--audit-linger-ms', '0'],
  },
  {
    name: 'wal-batched-sync5',
    durability: 'Batched',
    wal: true,
    logLevel: 'warn',
    role: 'before: (c) with --audit-sync-ms 5, the default until 2026-12-07 (an fdatasync every 5 ms under load instead of every 50)',
    extraArgs: ['--audit-sync-ms', '5'],
    diagnostic: true,
  },
];

interface RunningSidecar {
  readonly configuration: SidecarConfiguration;
  readonly child: Child;
  readonly url: string;
  readonly adminUrl: string;
}

interface StageSnapshot {
  readonly sums: Map<string, number>;
  readonly counts: Map<string, number>;
  readonly shipped: number;
  readonly batches: number;
  readonly walPending: number;
  readonly walBytes: number;
}

async function snapshot(adminUrl: string): Promise<StageSnapshot> {
  const text = await scrape(`${adminUrl}/metrics`);
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const match of text.matchAll(
    /^portcullis_stage_duration_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)$/gm,
  ))
    (match[1] === 'sum' ? sums : counts).set(match[2]!, Number(match[3]));
  return {
    sums,
    counts,
    shipped: promValue(text, 'portcullis_audit_shipped_events_total'),
    batches: promValue(text, 'portcullis_audit_batches_total', 'result="ok"'),
    walPending: promValue(text, 'portcullis_audit_wal_pending_events'),
    walBytes: promValue(text, 'portcullis_audit_wal_bytes'),
  };
}

/** Mean microseconds per call in each stage between two snapshots. */
function stageMeans(before: StageSnapshot, after: StageSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [stage, sum] of after.sums) {
    const count = (after.counts.get(stage) ?? 0) - (before.counts.get(stage) ?? 0);
    if (count > 0) out[stage] = round2(((sum - (before.sums.get(stage) ?? 0)) / count) * 1e6);
  }
  return out;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ms3 = (v: number) => Math.round(v * 1000) / 1000;

export async function runHotPath(settings: HotPathSettings, issuer: ServiceAccountIssuer) {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-audit-'));
  const children: Child[] = [];
  const jwks = await startJsonServer();
  try {
    const upstream = spawnChild('upstream', process.execPath, ['bench/sidecar/echo-upstream.ts', '0'], {
      stdout: 'pipe',
    });
    children.push(upstream);
    const { port: upstreamPort } = JSON.parse(await firstLine(upstream.proc)) as { port: number };
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;

    const collector = await startCollectorProcess(issuer);
    children.push({ ...collector.child, stop: () => collector.stop() });
    const collectorTokenFile = join(dir, 'collector-token');
    await writeFile(collectorTokenFile, await issuer.sidecarToken('bench', 'bench'), { mode: 0o600 });

    const key = await signingKey('ES256', 'bench');
    jwks.serve('/jwks', jwksOf(key));
    const policies = {
      Batched: await durabilityPolicy(dir, 'Batched'),
      Strict: await durabilityPolicy(dir, 'Strict'),
    };

    const baseline: SidecarConfiguration[] = settings.baselineMain
      ? [
          {
            name: 'wal-batched-baseline',
            durability: 'Batched',
            wal: true,
            logLevel: 'warn',
            role: `before: (c) with the baseline build's sidecar (${settings.baselineMain})`,
            main: settings.baselineMain,
          },
        ]
      : [];
    const configurations = [...CONFIGURATIONS, ...baseline].filter(
      (c) =>
        (settings.diagnostics || !c.diagnostic) &&
        (settings.only === undefined || settings.only.includes(c.name)),
    );
    const sidecars: RunningSidecar[] = [];
    for (const configuration of configurations) {
      const port = await freePort();
      const adminPort = await freePort();
      const walArgs = configuration.wal
        ? sidecarWalArgs(
            join(dir, `wal-${configuration.name}`),
            collector,
            collectorTokenFile,
            `bench-${configuration.name}`,
          )
        : [];
      const child = spawnChild(configuration.name, process.execPath, [
        ...(settings.sidecarNodeFlags ?? []),
        configuration.main ?? CLI_MAIN,
        'sidecar',
        '--policy',
        policies[configuration.durability],
        '--upstream',
        upstreamUrl,
        '--listen',
        `127.0.0.1:${port}`,
        '--admin-listen',
        `127.0.0.1:${adminPort}`,
        '--egress-listen',
        '127.0.0.1:0',
        '--jwks-uri',
        `${jwks.origin}/jwks`,
        '--log-level',
        configuration.logLevel,
        '--stage-timings',
        ...walArgs,
        ...(configuration.extraArgs ?? []),
      ]);
      children.push(child);
      const adminUrl = `http://127.0.0.1:${adminPort}`;
      await waitReady(`${adminUrl}/readyz`, child);
      sidecars.push({ configuration, child, url: `http://127.0.0.1:${port}/mcp`, adminUrl });
    }

    const { token, body, headers } = await echoCall(key);
    const targets = new Map<string, { target: Target; sidecar?: RunningSidecar }>([
      ['direct', { target: { url: upstreamUrl, headers, body } }],
      ...sidecars.map(
        (sidecar) =>
          [
            sidecar.configuration.name,
            {
              target: { url: sidecar.url, headers: { ...headers, authorization: `Bearer ${token}` }, body },
              sidecar,
            },
          ] as const,
      ),
    ]);
    const names = [...targets.keys()];

    // Warm-up: JIT, connection pools, token cache, the collector's first batches.
    for (const { target } of targets.values()) await openLoop(target, settings.rate, settings.warmupSeconds);
    // Let the shippers drain the warm-up before the measured windows start.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const before = new Map<string, StageSnapshot>();
    for (const sidecar of sidecars) before.set(sidecar.configuration.name, await snapshot(sidecar.adminUrl));
    const collectorBefore = await scrape(`${collector.metricsUrl}/metrics`);

    const perRound: Record<string, LatencySummary[]> = Object.fromEntries(names.map((n) => [n, []]));
    const cpu: Record<
      string,
      { sidecar: number; collector: number; upstream: number; bench: number; calls: number; other: number[] }
    > = Object.fromEntries(
      names.map((n) => [n, { sidecar: 0, collector: 0, upstream: 0, bench: 0, calls: 0, other: [] }]),
    );
    for (let round = 0; round < settings.rounds; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      for (const name of order) {
        const { target, sidecar } = targets.get(name)!;
        const pids = [upstream.pid, collector.child.pid, ...(sidecar ? [sidecar.child.pid] : [])];
        // The idle sidecars of the other configurations are ours too (heartbeats, timers).
        const idle = sidecars.filter((s) => s !== sidecar).map((s) => s.child.pid);
        const window = new CpuWindow(pids, idle);
        const summary = await openLoop(target, settings.rate, settings.seconds);
        const used = window.end();
        perRound[name]!.push(summary);
        const c = cpu[name]!;
        c.upstream += used.cpuSeconds[upstream.pid]!;
        c.collector += used.cpuSeconds[collector.child.pid]!;
        if (sidecar) c.sidecar += used.cpuSeconds[sidecar.child.pid]!;
        c.bench += used.benchProcessCpuSeconds;
        c.calls += summary.count;
        c.other.push(used.otherBusyCores);
      }
    }
    // The last batches of the last window reach the collector (shipping lag is reported, not timed).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const collectorAfter = await scrape(`${collector.metricsUrl}/metrics`);

    const direct = perRound['direct']!;
    const results: Record<string, unknown> = {};
    const addedBy: Record<string, { p50: number; p99: number }[]> = {};
    for (const name of names) {
      const rounds = perRound[name]!;
      const sidecar = targets.get(name)!.sidecar;
      const c = cpu[name]!;
      const latency = {
        p50Ms: ms3(median(rounds.map((r) => r.p50Ms))),
        p99Ms: ms3(median(rounds.map((r) => r.p99Ms))),
        p999Ms: ms3(median(rounds.map((r) => r.p999Ms))),
        maxMs: ms3(Math.max(...rounds.map((r) => r.maxMs))),
        calls: rounds.reduce((a, r) => a + r.count, 0),
        errors: rounds.reduce((a, r) => a + r.errors, 0),
      };
      const entry: Record<string, unknown> = {
        ...(sidecar ? { role: sidecar.configuration.role } : { role: '(a) direct to the upstream' }),
        latency,
        rounds: rounds.map((r) => ({ p50Ms: r.p50Ms, p99Ms: r.p99Ms, p999Ms: r.p999Ms, errors: r.errors })),
        cpuMicrosecondsPerCall: {
          ...(sidecar ? { sidecar: round1((c.sidecar / c.calls) * 1e6) } : {}),
          upstream: round1((c.upstream / c.calls) * 1e6),
          collector: round1((c.collector / c.calls) * 1e6),
          loadGenerator: round1((c.bench / c.calls) * 1e6),
        },
        otherBusyCoresPerRound: c.other,
      };
      if (sidecar) {
        const paired = rounds.map((r, i) => ({
          p50: r.p50Ms - direct[i]!.p50Ms,
          p99: r.p99Ms - direct[i]!.p99Ms,
        }));
        addedBy[name] = paired;
        entry['addedVsDirectMs'] = {
          p50: ms3(median(paired.map((p) => p.p50))),
          p99: ms3(median(paired.map((p) => p.p99))),
          p999: ms3(median(rounds.map((r, i) => r.p999Ms - direct[i]!.p999Ms))),
          perRound: paired.map((p) => ({ p50: ms3(p.p50), p99: ms3(p.p99) })),
        };
        const start = before.get(name)!;
        const end = await snapshot(sidecar.adminUrl);
        entry['stageMeanMicroseconds'] = stageMeans(start, end);
        if (sidecar.configuration.wal) {
          const shipped = end.shipped - start.shipped;
          const batches = end.batches - start.batches;
          entry['shipping'] = {
            eventsShipped: shipped,
            eventsPerCall: round2(shipped / latency.calls),
            batches,
            meanEventsPerBatch: batches > 0 ? round1(shipped / batches) : 0,
            walPendingEventsAtEnd: end.walPending,
            walBytesAtEnd: end.walBytes,
          };
        }
      }
      results[name] = entry;
    }

    // The audit-only delta: a WAL configuration minus the log sink, paired per round (same order rotation).
    const auditOnly: Record<string, unknown> = {};
    for (const name of ['wal-batched', 'wal-strict', 'wal-batched-linger0', 'wal-batched-baseline']) {
      if (!addedBy[name] || !addedBy['log-sink']) continue;
      const paired = addedBy[name].map((p, i) => ({
        p50: p.p50 - addedBy['log-sink']![i]!.p50,
        p99: p.p99 - addedBy['log-sink']![i]!.p99,
      }));
      auditOnly[`${name} minus log-sink`] = {
        p50Ms: ms3(median(paired.map((p) => p.p50))),
        p99Ms: ms3(median(paired.map((p) => p.p99))),
        perRound: paired.map((p) => ({ p50: ms3(p.p50), p99: ms3(p.p99) })),
      };
    }

    const ingested = (text: string) =>
      promValue(text, 'portcullis_collector_ingest_events_total', 'result="accepted"');
    const ingestRequests = promSamples(collectorAfter, 'portcullis_collector_requests_total');
    return {
      settings: {
        offeredRatePerSecond: settings.rate,
        secondsPerWindow: settings.seconds,
        rounds: settings.rounds,
        warmupSeconds: settings.warmupSeconds,
        requestBytes: Buffer.byteLength(body),
        sidecarFlags:
          '--stage-timings --log-level warn (log-sink-info: info); WAL configurations: --audit-sync-ms 5 (the default), --audit-linger-ms 100 (the default; wal-batched-linger0: 0), --collector-url, --collector-token-file',
        collector: `${CLI_MAIN} collector, SQLite, --auth jwks (JWKS on loopback), own process, unpinned`,
        sidecar: `${CLI_MAIN} sidecar, each configuration its own process, unpinned`,
      },
      configurations: results,
      auditOnlyDelta: auditOnly,
      collector: {
        eventsAcceptedDuringWindows: ingested(collectorAfter) - ingested(collectorBefore),
        requests: ingestRequests.map((s) => `${s.labels} ${s.value}`),
      },
    };
  } finally {
    for (const child of children.reverse()) await child.stop();
    await jwks.close();
    await rm(dir, { recursive: true, force: true }); // policies, tokens, the WALs
  }
}
