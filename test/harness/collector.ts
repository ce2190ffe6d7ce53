import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1ObjectReference,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { inject } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { COLLECTOR_AUDIENCE, sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';
import { randomUUID } from 'node:crypto';
import { testEvents } from '../../collector/store/test-events.ts';
import { HEARTBEAT_PATH, INGEST_PATH, SIDECAR_HEADER, type Heartbeat } from '../../api/audit/v1/ingest.ts';
import { collectorConfigFromArgs } from '../../cli/commands/collector.ts';
import { collectorConfigSchema } from '../../collector/config.ts';
import { startCollector as startInProcess, type RunningCollector } from '../../collector/start.ts';
import { freeLoopbackPorts } from './free-port.ts';
import { describeLog } from './log-tail.ts';
import { signalProcess } from './processes.ts';
import { startSupervised, type SupervisedProcess } from './supervised-process.ts';

/**
 * A real collector for tests, in this process or as a child process (`node cli/main.ts collector ...`,
 * with a kubeconfig file of its own ServiceAccount, the way a pod runs it). Ports and the SQLite file are
 * chosen once, so stop()/start(), restart() and kill() (SIGKILL: a crash) bring the same collector back
 * on the same address over the same data.
 *
 *   const collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
 *   await postBatch(collector.url, token, events);
 *   await collector.kill(); await collector.start();
 */
export interface CollectorUnderTest {
  /** Ingest and query, http://127.0.0.1:<port>. */
  readonly url: string;
  /** /metrics, /healthz, /readyz. */
  readonly metricsUrl: string;
  readonly sqlitePath: string;
  /** The collector's own credentials (ServiceAccount portcullis-system/portcullis-collector). */
  readonly kubeconfigPath: string;
  readonly mode: 'in-process' | 'child';
  /** In-process mode: the running collector (its store, metrics), while it runs. */
  readonly running: RunningCollector | undefined;
  /** Child mode: the collector process's PID while it runs (bash execs node, so it is node's). */
  readonly pid: number | undefined;
  /** Log lines so far (pino JSON), across restarts. */
  logs(): string[];
  /** What the stdout exporter wrote so far (one JSON event per line), across restarts. */
  exported(): AuditEvent[];
  /** Graceful stop (SIGTERM in child mode): in-flight batches are answered, the store closed. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again after stop() or kill(), same ports and file; resolves once /readyz says ready. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Child mode: SIGKILL, no shutdown at all (a crash or an OOM kill). */
  kill(): Promise<void>;
}

export interface CollectorOptions {
  /** Default in-process; child for crash and restart tests. */
  readonly mode?: 'in-process' | 'child';
  /**
   * `portcullis collector` flags besides --listen, --metrics-listen, --sqlite-path and --kubeconfig
   * (e.g. { 'query-auth': 'none', auth: 'jwks', export: 'otlp', 'otlp-endpoint': url }).
   */
  readonly flags?: Readonly<Record<string, string>>;
  /** Default: a new file in a new directory under the run's scratch directory. */
  readonly sqlitePath?: string;
  /** Default: collectorKubeconfig(). */
  readonly kubeconfigPath?: string;
  /** Child mode: Node options before the script (e.g. --max-old-space-size=512, as a chart would set). */
  readonly nodeArgs?: readonly string[];
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function startCollector(options: CollectorOptions = {}): Promise<CollectorUnderTest> {
  const mode = options.mode ?? 'in-process';
  const dir = mkdtempSync(join(inject('scratchDir'), 'collector-'));
  const sqlitePath = options.sqlitePath ?? join(dir, 'audit.db');
  const kubeconfigPath = options.kubeconfigPath ?? (await collectorKubeconfig());
  const ports = await freeLoopbackPorts(['listen', 'metrics']);
  const url = `http://127.0.0.1:${ports.listen}`;
  const metricsUrl = `http://127.0.0.1:${ports.metrics}`;
  const args = [
    '--listen',
    `127.0.0.1:${ports.listen}`,
    '--metrics-listen',
    `127.0.0.1:${ports.metrics}`,
    '--sqlite-path',
    sqlitePath,
    '--kubeconfig',
    kubeconfigPath,
    ...Object.entries(options.flags ?? {}).flatMap(([flag, value]) => [`--${flag}`, value]),
  ];
  const logPath = join(dir, 'collector.log');
  const logsOnStdout = !(options.flags?.['export'] ?? '').split(',').includes('stdout');
  const stdoutPath = join(dir, 'collector.stdout');
  writeFileSync(stdoutPath, '');
  const memoryLogs: string[] = [];
  const memoryExport: string[] = [];

  let running: RunningCollector | undefined;
  let child: SupervisedProcess | undefined;

  const start = async () => {
    if (mode === 'in-process') {
      const input = collectorConfigFromArgs(args, {});
      if (input === 'help') throw new Error('unreachable');
      const log = pino(
        { level: 'debug' },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            memoryLogs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
            done();
          },
        }),
      );
      running = await startInProcess(collectorConfigSchema.parse(input), {
        log,
        stdout: (text) => void memoryExport.push(text),
      });
    } else {
      // stdout (the stdout exporter) to its own file; logs (stderr) to the log through the watchdog.
      child = await startSupervised({
        name: 'collector',
        command: 'bash',
        args: [
          '-c',
          'out=$1; shift; exec "$@" >>"$out"',
          'collector',
          stdoutPath,
          process.execPath,
          ...(options.nodeArgs ?? []),
          join(repoRoot, 'cli/main.ts'),
          'collector',
          '--log-level',
          'debug',
          ...args,
        ],
        logPath,
        stopGraceSeconds: 30,
      });
      await waitUntilReady(metricsUrl, child, logPath);
    }
  };

  const stop = async () => {
    if (running) {
      const stopping = running;
      running = undefined;
      await stopping.stop();
    }
    if (child) {
      const stopping = child;
      child = undefined;
      await stopping.stop();
    }
  };

  await start();
  return {
    url,
    metricsUrl,
    sqlitePath,
    kubeconfigPath,
    mode,
    get running() {
      return running;
    },
    get pid() {
      return child?.pid;
    },
    // Without the stdout exporter a child collector logs to stdout (its own file here), else to stderr.
    logs: () =>
      mode === 'in-process'
        ? [...memoryLogs]
        : [...readLines(logPath), ...(logsOnStdout ? readLines(stdoutPath) : [])],
    exported: () =>
      (mode === 'in-process' ? memoryExport.join('').split('\n').filter(Boolean) : readLines(stdoutPath)).map(
        (line) => JSON.parse(line) as AuditEvent,
      ),
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async kill() {
      if (mode !== 'child') throw new Error('kill() needs mode: child');
      if (!child) return;
      const killed = child;
      child = undefined;
      signalProcess(killed.pid, 'SIGKILL');
      await killed.exited;
    },
  };
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function waitUntilReady(metricsUrl: string, child: SupervisedProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    const status = await fetch(`${metricsUrl}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await child.stop();
  throw new Error(`the collector did not become ready\n${describeLog('collector', logPath)}`);
}

// ---------------------------------------------------------------------------------------------------
// Credentials: the collector's own ServiceAccount, and sidecar tokens as a pod of an McpServer gets them.

export function adminKubeConfig(): KubeConfig {
  const kube = new KubeConfig();
  kube.loadFromFile(inject('kubeconfig'));
  return kube;
}

export const COLLECTOR_NAMESPACE = 'portcullis-system';
export const COLLECTOR_SERVICE_ACCOUNT = 'portcullis-collector';

let collectorKubeconfigPath: Promise<string> | undefined;

/**
 * A kubeconfig file for ServiceAccount portcullis-system/portcullis-collector, bound to ClusterRole
 * system:auth-delegator (create tokenreviews and subjectaccessreviews) and nothing else: the collector
 * runs with exactly the rights its pod would have. Created once per test file.
 */
export function collectorKubeconfig(): Promise<string> {
  collectorKubeconfigPath ??= (async () => {
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    await ignoreConflict(core.createNamespace({ body: { metadata: { name: COLLECTOR_NAMESPACE } } }));
    await ignoreConflict(
      core.createNamespacedServiceAccount({
        namespace: COLLECTOR_NAMESPACE,
        body: { metadata: { name: COLLECTOR_SERVICE_ACCOUNT } },
      }),
    );
    await ignoreConflict(
      admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
        body: {
          metadata: { name: 'portcullis-collector-auth-delegator' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'system:auth-delegator',
          },
          subjects: [
            { kind: 'ServiceAccount', name: COLLECTOR_SERVICE_ACCOUNT, namespace: COLLECTOR_NAMESPACE },
          ],
        },
      }),
    );
    const token = await requestToken(admin, COLLECTOR_NAMESPACE, COLLECTOR_SERVICE_ACCOUNT, {
      audiences: [],
    });
    const cluster = admin.getCurrentCluster()!;
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
      users: [{ name: COLLECTOR_SERVICE_ACCOUNT, token }],
      contexts: [
        {
          name: 'collector',
          cluster: 'test',
          user: COLLECTOR_SERVICE_ACCOUNT,
          namespace: COLLECTOR_NAMESPACE,
        },
      ],
      currentContext: 'collector',
    });
    const path = join(mkdtempSync(join(inject('scratchDir'), 'collector-sa-')), 'kubeconfig');
    writeFileSync(path, config.exportConfig(), { mode: 0o600 });
    return path;
  })();
  return collectorKubeconfigPath;
}

/** A TokenRequest for a ServiceAccount, as the kubelet makes one for a projected volume. */
export async function requestToken(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
  options: { audiences?: readonly string[]; expirationSeconds?: number; pod?: V1ObjectReference } = {},
): Promise<string> {
  const response = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccount,
    body: {
      spec: {
        audiences: [...(options.audiences ?? [COLLECTOR_AUDIENCE])],
        expirationSeconds: options.expirationSeconds ?? 3600,
        ...(options.pod ? { boundObjectRef: options.pod } : {}),
      },
    },
  });
  return response.status!.token!;
}

/**
 * The token a sidecar of McpServer `namespace/server` presents: ServiceAccount `<server>-mcp` (created
 * if missing), audience = the collector's. With `pod`, also a Pod of that account (never scheduled: no
 * kubelet runs) that the token is bound to, as a projected volume's token is.
 */
export async function sidecarToken(
  admin: KubeConfig,
  namespace: string,
  server: string,
  options: { audiences?: readonly string[]; pod?: boolean } = {},
): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const serviceAccount = sidecarServiceAccountName(server);
  await ignoreConflict(
    core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }),
  );
  let pod: V1ObjectReference | undefined;
  if (options.pod) {
    const name = `${server}-${Math.random().toString(36).slice(2, 8)}`;
    const created = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name },
        spec: {
          serviceAccountName: serviceAccount,
          automountServiceAccountToken: false,
          containers: [{ name: 'mcp', image: 'example.invalid/mcp:1' }],
        },
      },
    });
    pod = { apiVersion: 'v1', kind: 'Pod', name, uid: created.metadata!.uid! };
  }
  return requestToken(admin, namespace, serviceAccount, {
    ...(options.audiences ? { audiences: options.audiences } : {}),
    ...(pod ? { pod } : {}),
  });
}

export async function createNamespace(admin: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

/**
 * The control plane's service-account signing key (RSA, PKCS#8 PEM): tests forge tokens the API server
 * would accept but for one flaw (expired, wrong claims). It sits in the control plane's data directory,
 * next to the scratch directory (test/harness/credentials.ts).
 */
export function serviceAccountSigningKeyPem(): string {
  return readFileSync(join(dirname(inject('scratchDir')), 'pki', 'service-account.key'), 'utf8');
}

// ---------------------------------------------------------------------------------------------------
// The shipper's side of the wire protocol, for tests.

/**
 * Valid events seq `from`..`to` of one sidecar of server `namespace/name`, as a sidecar writes them:
 * fresh ids, times of now (retention deletes by event time, so fixed dates in the past would vanish).
 */
export function sidecarEvents(
  sidecar: string,
  from: number,
  to: number,
  server: { readonly namespace: string; readonly name: string },
  overrides: Partial<AuditEvent> = {},
): AuditEvent[] {
  const now = Date.now();
  return testEvents(sidecar, from, to, { server, ...overrides }).map((event) => ({
    ...event,
    id: randomUUID(),
    time: new Date(now + event.seq).toISOString(),
    ...overrides,
  }));
}

export interface WireResult {
  readonly status: number;
  readonly body: unknown;
}

/** POST /v1/events as a shipper does: NDJSON, bearer token, Portcullis-Sidecar of the first event. */
export async function postBatch(
  url: string,
  token: string | undefined,
  events: readonly unknown[],
  options: { sidecar?: string; body?: string | Buffer; contentType?: string } = {},
): Promise<WireResult> {
  const sidecar = options.sidecar ?? (events[0] as { sidecar?: string } | undefined)?.sidecar ?? 'none';
  const response = await fetch(`${url}${INGEST_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/x-ndjson',
      [SIDECAR_HEADER]: sidecar,
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: options.body ?? events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  });
  return { status: response.status, body: await jsonOrText(response) };
}

export async function postHeartbeat(
  url: string,
  token: string,
  beat: Partial<Heartbeat>,
): Promise<WireResult> {
  const response = await fetch(`${url}${HEARTBEAT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ time: new Date().toISOString(), lastSeq: 0, ackedSeq: 0, walBytes: 0, ...beat }),
  });
  return { status: response.status, body: await jsonOrText(response) };
}

/** Every event of a namespace through the query API, oldest first (all pages). */
export async function storedEvents(url: string, namespace: string, token?: string): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams({
      namespace,
      order: 'asc',
      limit: '10000',
      ...(after ? { after } : {}),
    });
    const page = (await getJson(url, `/v1/events?${query}`, token)).body as {
      events: AuditEvent[];
      next?: string;
    };
    events.push(...page.events);
    if (page.next === undefined) return events;
    after = page.next;
  }
}

/** GET a query endpoint (path with its query string), with an optional bearer token. */
export async function getJson(url: string, path: string, token?: string): Promise<WireResult> {
  const response = await fetch(`${url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await jsonOrText(response) };
}

async function jsonOrText(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return text;
  }
}
