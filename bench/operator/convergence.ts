// Phase 2 of make bench-operator: convergence of SERVERS McpServers with the operator as its own process
// (leader election off), then a restart of that process against the converged objects (a full resync).
// Every loop is bounded in count and time; traffic stays on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { freePort, inParallel, memoryOf, round, sleep } from './stats.ts';

const root = join(import.meta.dirname, '../..');
const CHILD_KINDS = [
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
] as const;
const MANAGED = 'app.kubernetes.io/managed-by=portcullis-operator';

export interface ConvergenceOptions {
  readonly admin: KubeConfig;
  readonly adminKubeconfigPath: string;
  readonly servers: number;
  readonly namespaces: number;
  readonly workers: number;
  readonly createConcurrency: number;
  readonly timeoutMs: number;
  /** NODE_OPTIONS of the operator process: what the Helm chart's Deployment sets (see main.ts). */
  readonly nodeOptions: string;
}

interface OperatorProcess {
  readonly proc: ChildProcess;
  readonly metricsUrl: string;
  readonly exited: Promise<void>;
  stop(): Promise<void>;
}

async function startOperatorProcess(
  kubeconfig: string,
  workers: number,
  nodeOptions: string,
): Promise<OperatorProcess> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      process.env['OPERATOR_MAIN'] ?? 'cli/main.ts',
      'operator',
      '--kubeconfig',
      kubeconfig,
      '--leader-elect',
      'false',
      '--workers',
      String(workers),
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
    ],
    {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
      stdio: [
        'ignore',
        process.env['BENCH_OPERATOR_LOG'] ? openSync(process.env['BENCH_OPERATOR_LOG'], 'a') : 'ignore',
        'inherit',
      ],
    },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // Should the benchmark die first, take the operator with it.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  void exited.then(() => process.off('exit', reap));
  return {
    proc,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    exited,
    async stop() {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

interface Scrape {
  readonly reconciles: number;
  readonly errors: number;
  readonly retries: number;
  readonly depth: number;
  /** V8 heap used and total, and off-heap (external + array buffers), MiB. */
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

async function scrape(url: string): Promise<Scrape | undefined> {
  const text = await fetch(url).then(
    (r) => (r.ok ? r.text() : undefined),
    () => undefined,
  );
  if (text === undefined) return undefined;
  let reconciles = 0;
  let errors = 0;
  let retries = 0;
  for (const m of text.matchAll(/^portcullis_operator_reconciles_total\{([^}]*)\} (\S+)$/gm)) {
    reconciles += Number(m[2]);
    if (!m[1]!.includes('outcome="ok"')) errors += Number(m[2]);
  }
  for (const m of text.matchAll(/^portcullis_operator_reconcile_retries_total\{[^}]*\} (\S+)$/gm))
    retries += Number(m[1]);
  const depth = Number(/^portcullis_operator_queue_depth (\S+)$/m.exec(text)?.[1] ?? NaN);
  const mib = (name: string) =>
    round(
      Number(new RegExp(`^portcullis_operator_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20,
    );
  return {
    reconciles,
    errors,
    retries,
    depth,
    heapUsedMiB: mib('heap_size_used_bytes'),
    heapTotalMiB: mib('heap_size_total_bytes'),
    externalMiB: mib('external_memory_bytes'),
  };
}

function serverObject(namespace: string, name: string) {
  return {
    apiVersion: 'portcullis.dev/v1alpha1',
    kind: 'McpServer',
    metadata: { name, namespace },
    spec: {
      workload: { image: 'registry.example.com/acme/bench-mcp:1.0.0' },
      auth: {
        issuer: 'https://id.example.com/realms/acme',
        publicUrl: `https://${name}.${namespace}.mcp.example.com/mcp`,
      },
    },
  };
}

export async function convergencePhase(options: ConvergenceOptions): Promise<Record<string, unknown>> {
  const { admin, servers } = options;
  const core = admin.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(admin);
  const namespaces = Array.from({ length: options.namespaces }, (_, i) => `bench-conv-${i}`);
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
  const wanted = Array.from({ length: servers }, (_, i) => ({
    namespace: namespaces[i % namespaces.length]!,
    name: `s-${String(i).padStart(4, '0')}`,
  }));

  const countReady = async (): Promise<number> => {
    let ready = 0;
    for (const namespace of namespaces) {
      const list = await objects.list<
        KubernetesObject & {
          status?: { conditions?: { type: string; status: string }[] };
        }
      >('portcullis.dev/v1alpha1', 'McpServer', namespace);
      for (const item of list.items)
        if (item.status?.conditions?.some((c) => c.type === 'PolicyReady' && c.status === 'True')) ready += 1;
    }
    return ready;
  };
  const countChildren = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (const { apiVersion, kind } of CHILD_KINDS) {
      counts[kind] = 0;
      for (const namespace of namespaces) {
        const list = await objects.list(
          apiVersion,
          kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          MANAGED,
        );
        counts[kind] += list.items.length;
      }
    }
    return counts;
  };

  // 1. The operator, its own process, then SERVERS McpServers created as fast as the API server takes them.
  const started = performance.now();
  const first = await startOperatorProcess(options.adminKubeconfigPath, options.workers, options.nodeOptions);
  for (let i = 0; i < 200 && (await scrape(first.metricsUrl)) === undefined; i++) await sleep(50);
  const operatorUpMs = performance.now() - started;
  const rssSamples: number[] = [];
  const sampler = setInterval(
    () =>
      void memoryOf(first.proc.pid!).then(
        (m) => rssSamples.push(m.rssMiB),
        () => undefined,
      ),
    500,
  );

  const t0 = performance.now();
  await inParallel(wanted, options.createConcurrency, async ({ namespace, name }) => {
    await objects.create(serverObject(namespace, name) as never);
  });
  const createdMs = performance.now() - t0;

  // 2. Poll (bounded) until every server has PolicyReady=True; status is written after the children are
  //    applied, so then count the children once (and keep polling if any is missing).
  let convergedMs: number | undefined;
  let children: Record<string, number> = {};
  const progress: { atMs: number; ready: number }[] = [];
  const deadline = t0 + options.timeoutMs;
  while (performance.now() < deadline) {
    const ready = await countReady();
    progress.push({ atMs: Math.round(performance.now() - t0), ready });
    if (ready >= servers) {
      const at = performance.now();
      children = await countChildren();
      if (Object.values(children).every((n) => n >= servers)) {
        convergedMs = at - t0;
        break;
      }
    }
    await sleep(250);
  }
  clearInterval(sampler);
  const firstRun = await scrape(first.metricsUrl);
  const firstMemory = await memoryOf(first.proc.pid!);
  await first.stop();

  // 3. Restart against the converged objects: a full resync. Scrape reconciles until the count stops
  //    growing with an empty queue (bounded).
  const restartedAt = performance.now();
  const second = await startOperatorProcess(
    options.adminKubeconfigPath,
    options.workers,
    options.nodeOptions,
  );
  const series: { atMs: number; reconciles: number; depth: number }[] = [];
  let firstReconcileAt: number | undefined;
  let lastChangeAt: number | undefined;
  // When the whole resync fits between two scrapes, the last scrape that saw nothing done and the first
  // that saw everything done bound the drain time from above (so the rate from below).
  let lastIdleAt: number | undefined;
  let drainedAt: number | undefined;
  let last: Scrape | undefined;
  const resyncDeadline = restartedAt + options.timeoutMs;
  while (performance.now() < resyncDeadline) {
    const now = performance.now();
    const s = await scrape(second.metricsUrl);
    if (s !== undefined) {
      series.push({ atMs: Math.round(now - restartedAt), reconciles: s.reconciles, depth: s.depth });
      if (s.reconciles === 0) lastIdleAt = now;
      if (s.reconciles >= servers && s.depth === 0 && drainedAt === undefined) drainedAt = now;
      if (s.reconciles > 0 && firstReconcileAt === undefined) firstReconcileAt = now;
      if (last === undefined || s.reconciles !== last.reconciles) lastChangeAt = now;
      last = s;
      if (s.reconciles >= servers && s.depth === 0 && now - (lastChangeAt ?? now) > 1000) break;
    }
    await sleep(50);
  }
  const secondMemory = await memoryOf(second.proc.pid!);
  await second.stop();
  const drainSeconds =
    firstReconcileAt !== undefined && lastChangeAt !== undefined
      ? (lastChangeAt - firstReconcileAt) / 1000
      : NaN;

  return {
    servers,
    namespaces: options.namespaces,
    workers: options.workers,
    operatorNodeOptions: options.nodeOptions,
    createConcurrency: options.createConcurrency,
    operatorStartMs: Math.round(operatorUpMs),
    createAllMs: Math.round(createdMs),
    convergedMs: convergedMs === undefined ? null : Math.round(convergedMs),
    converged: convergedMs !== undefined,
    children,
    progress: progress.filter((_, i) => i % 4 === 0 || i === progress.length - 1),
    operator: {
      ...firstMemory,
      rssSampledMaxMiB: round(Math.max(...rssSamples, firstMemory.rssMiB)),
      reconciles: firstRun,
    },
    resync: {
      reconciles: last,
      firstReconcileAfterStartMs:
        firstReconcileAt === undefined ? null : Math.round(firstReconcileAt - restartedAt),
      drainSeconds: round(drainSeconds, 2),
      reconcilesPerSecond: drainSeconds > 0 ? round((last?.reconciles ?? 0) / drainSeconds) : null,
      reconcilesPerSecondAtLeast:
        lastIdleAt !== undefined && drainedAt !== undefined
          ? round((last?.reconciles ?? 0) / ((drainedAt - lastIdleAt) / 1000))
          : null,
      operatorMemory: secondMemory,
      series: series.filter((_, i) => i % 5 === 0),
    },
  };
}
