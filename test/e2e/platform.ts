// The platform a team installs, as the e2e tests set it up on the node: the chart with default values,
// a real OpenID provider, and the billing example (examples/billing.yaml) pointed at that provider.
// Every step is idempotent, so each test file can ask for the platform and get the running one.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { helm, CHART_DIR } from '../harness/helm.ts';
import { deployIdentityProvider, ISSUER, type Caller } from './identity.ts';
import { apply, ensureNamespace, kubectl, waitForPodPhase } from './kube.ts';
import { scriptPod } from './test-pods.ts';
import { waitFor } from '../cluster/wait.ts';
import { cluster } from './context.ts';

export const SYSTEM_NAMESPACE = 'portcullis-system';
export const RELEASE = 'portcullis';
export const BILLING_NAMESPACE = 'e2e-billing';
/** The resource indicator the billing server's tokens are issued for (its spec.auth.publicUrl). */
export const BILLING_RESOURCE = 'https://billing.e2e.portcullis.test/mcp';
/** What the operator publishes in status.endpoint: the Service in front of the sidecars. */
/** The stdio example (docs-search) as the egress tests run it: its fetch_url tool goes out through the sidecar. */
export const FETCHER_NAMESPACE = 'e2e-egress';
export const FETCHER_RESOURCE = 'https://fetcher.e2e.portcullis.test/mcp';
export const FETCHER_URL = `http://fetcher-mcp.${FETCHER_NAMESPACE}.svc.cluster.local/mcp`;
export const BILLING_URL = `http://billing-mcp.${BILLING_NAMESPACE}.svc.cluster.local/mcp`;
export const SCOPES = ['billing', 'billing:invoices:read', 'billing:refunds:write'];
const REPO = resolve(import.meta.dirname, '../..');

export const CALLERS = {
  /** Support staff of tenant acme, through the support copilot. */
  support: {
    clientId: 'support-copilot',
    secret: 'support-copilot-secret-0123456789abcdef',
    claims: { tenant_id: 'acme', groups: ['support'] },
  },
  /** A monitor calling one tool as fast as it answers (the kill-switch timing): no per-rule limit. */
  watcher: {
    clientId: 'e2e-watcher',
    secret: 'e2e-watcher-secret-0123456789abcdef',
    claims: { tenant_id: 'acme', groups: ['e2e-watchers'] },
  },
  /** Authenticated, in no group any policy names. */
  outsider: {
    clientId: 'marketing-bot',
    secret: 'marketing-bot-secret-0123456789abcdef',
    claims: { tenant_id: 'acme', groups: ['marketing'] },
  },
} satisfies Record<string, Caller>;

/** `helm upgrade --install` with the chart's default values; resolves with how long it took. */
export async function installChart(): Promise<number> {
  const started = performance.now();
  const result = await helm(
    [
      'upgrade',
      '--install',
      RELEASE,
      CHART_DIR,
      `--kubeconfig=${cluster().kubeconfig}`,
      `--namespace=${SYSTEM_NAMESPACE}`,
      '--create-namespace',
      '--wait',
      '--timeout=5m',
    ],
    { timeoutMs: 330_000 },
  );
  if (result.code !== 0) throw new Error(`helm upgrade --install failed: ${result.stderr}`);
  return performance.now() - started;
}

/** A Kubernetes object as YAML gives it: what the tests read and change of it. */
export interface Manifest {
  kind?: string;
  metadata: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { auth?: Record<string, unknown>; [key: string]: unknown };
  [key: string]: unknown;
}

/** The objects of an example file, as parsed YAML. */
export function exampleObjects(file: string): Manifest[] {
  const text = readFileSync(resolve(REPO, 'examples', file), 'utf8');
  return parseAllDocuments(text)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
}

/** examples/billing.yaml in the e2e namespace, trusting the in-cluster provider through its CA. */
export function billingObjects(caPem: string): Manifest[] {
  const objects = exampleObjects('billing.yaml').map((object) => {
    const copy = structuredClone(object);
    copy.metadata.namespace = BILLING_NAMESPACE;
    if (copy.kind === 'McpServer' && copy.spec?.auth !== undefined) {
      copy.spec.auth['issuer'] = ISSUER;
      copy.spec.auth['publicUrl'] = BILLING_RESOURCE;
      copy.spec.auth['caBundle'] = { configMapKeyRef: { name: 'idp-ca', key: 'ca.crt' } };
      // The watcher calls a few hundred times a second; the example's server-wide 50/s would answer it.
      copy.spec['limits'] = {
        ...(copy.spec['limits'] as object),
        rate: { requestsPerSecond: 2000, burst: 2000 },
      };
    }
    return copy;
  });
  const watchers: Manifest = {
    apiVersion: 'portcullis.dev/v1alpha1',
    kind: 'ToolPolicy',
    metadata: { name: 'e2e-watchers', namespace: BILLING_NAMESPACE },
    spec: {
      targets: { servers: ['billing'] },
      rules: [
        {
          name: 'watch-invoices',
          tools: ['list_invoices', 'read_invoice'],
          subjects: { groups: ['e2e-watchers'] },
        },
      ],
    },
  };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'idp-ca', namespace: BILLING_NAMESPACE },
      data: { 'ca.crt': caPem },
    },
    ...objects,
    watchers,
  ];
}

export interface Platform {
  readonly caPem: string;
  /** How long `helm upgrade --install` took in this call, in ms. */
  readonly installMs: number;
}

let platform: Promise<Platform> | undefined;
const FIRST_CALL_RESULTS = resolve(REPO, 'bench/results/cluster-first-call.json');

export function ensurePlatform(): Promise<Platform> {
  platform ??= (async () => {
    const fresh =
      kubectl(['-n', SYSTEM_NAMESPACE, 'get', 'deployment', '--ignore-not-found', '-o', 'name']).trim() ===
      '';
    const startedAt = Date.now();
    const installMs = await installChart();
    const identity = await deployIdentityProvider(
      cluster().productImage,
      [BILLING_RESOURCE, FETCHER_RESOURCE],
      SCOPES,
      Object.values(CALLERS),
    );
    ensureNamespace(BILLING_NAMESPACE);
    apply(billingObjects(identity.caPem));
    await waitForCondition(BILLING_NAMESPACE, 'mcpserver/billing', 'Ready');
    if (fresh) {
      // On a fresh cluster: helm install to the first successful call of a client pod (docs/performance.md).
      const readyAt = Date.now();
      const lines = await runClient('client-first-call', {
        caller: CALLERS.support,
        mode: 'steps',
        steps: [{ tool: 'list_invoices', args: { customer_id: 'acme' } }],
      });
      const call = lines.find((line) => line.tool === 'list_invoices' && line.ok === true);
      if (call !== undefined) {
        const figures = {
          helmInstallMs: Math.round(installMs),
          toServerReadyMs: readyAt - startedAt,
          toFirstCallMs: call.at - startedAt,
        };
        mkdirSync(dirname(FIRST_CALL_RESULTS), { recursive: true });
        writeFileSync(FIRST_CALL_RESULTS, `${JSON.stringify(figures, null, 2)}\n`);
        console.log(`helm install to first successful call: ${JSON.stringify(figures)}`);
      }
    }
    return { caPem: identity.caPem, installMs };
  })();
  return platform;
}

export async function waitForCondition(
  namespace: string,
  target: string,
  condition: string,
  timeoutMs = 180_000,
): Promise<void> {
  await waitFor(`${condition} of ${namespace}/${target}`, timeoutMs, () => {
    kubectl(['-n', namespace, 'wait', target, `--for=condition=${condition}`, '--timeout=5s']);
    return true;
  });
}

export interface ClientPlan {
  readonly caller: Caller;
  readonly mode: 'steps' | 'watch' | 'sequence' | 'load';
  readonly count?: number;
  readonly rate?: number;
  readonly concurrency?: number;
  readonly seconds?: number;
  readonly marker?: string;
  readonly markerArg?: string;
  readonly intervalMs?: number;
  readonly steps?: readonly Record<string, unknown>[];
  readonly tool?: string;
  readonly args?: Record<string, unknown>;
  readonly url?: string;
  /** Load generator only: connect to this http://IP:PORT (one pod) instead of the url's host. */
  readonly address?: string;
  readonly resource?: string;
  /**
   * The program: the SDK client (test/e2e/pods/mcp-client.ts, the default), or the lean load generator
   * (test/e2e/pods/load-generator.ts, load only) for rates the SDK client cannot reach.
   */
  readonly program?: 'mcp-client' | 'load-generator';
}

/** Starts a client pod (test/e2e/pods/mcp-client.ts unless told), in the billing namespace unless told. */
export function startClient(name: string, plan: ClientPlan, namespace = BILLING_NAMESPACE): void {
  kubectl(['-n', namespace, 'delete', 'pod', name, '--ignore-not-found', '--wait=true']);
  apply([
    scriptPod({
      name,
      namespace,
      image: cluster().productImage,
      script: `test/e2e/pods/${plan.program ?? 'mcp-client'}.ts`,
      labels: { 'portcullis.dev/e2e-client': 'true' },
      env: {
        NODE_EXTRA_CA_CERTS: '/ca/ca.crt',
        PLAN: JSON.stringify({
          idp: ISSUER,
          clientId: plan.caller.clientId,
          secret: plan.caller.secret,
          resource: plan.resource ?? BILLING_RESOURCE,
          scope: SCOPES.join(' '),
          url: plan.url ?? BILLING_URL,
          address: plan.address,
          mode: plan.mode,
          steps: plan.steps,
          tool: plan.tool,
          args: plan.args,
          count: plan.count,
          rate: plan.rate,
          concurrency: plan.concurrency,
          seconds: plan.seconds,
          marker: plan.marker,
          markerArg: plan.markerArg,
          intervalMs: plan.intervalMs,
        }),
      },
      mounts: { '/ca': { configMap: { name: 'idp-ca' } } },
    }),
  ]);
}

/** One line a client pod prints (test/e2e/pods/mcp-client.ts). */
export interface ClientLine {
  at: number;
  connected?: boolean;
  list?: string[];
  tool?: string;
  ok?: boolean;
  result?: { structuredContent?: Record<string, unknown>; content?: unknown[] };
  error?: { code?: number; message?: string; data?: { portcullis?: { code?: string } } };
  burst?: number;
  outcomes?: string[];
  elapsedMs?: number;
  allowed?: boolean;
  /** watch mode: when the call reported on left the client (`at` is when its answer came). */
  sentAt?: number;
  marker?: string;
  answered?: boolean;
  load?: boolean;
  issued?: number;
  okCalls?: number;
  failedCalls?: number;
  seconds?: number;
  rate?: number;
  /** load generator: client-side latency percentiles of the calls answered */
  latencyMs?: { p50: number; p99: number; p999: number };
  refusals?: Record<string, number>;
  code?: string;
  done?: boolean;
  failed?: string;
}

/** The JSON lines a client pod printed so far. */
export function clientLines(name: string, namespace = BILLING_NAMESPACE): ClientLine[] {
  return kubectl(['-n', namespace, 'logs', name])
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as ClientLine);
}

/** Runs a client pod to completion and returns its lines. */
export async function runClient(
  name: string,
  plan: ClientPlan,
  namespace = BILLING_NAMESPACE,
): Promise<ClientLine[]> {
  startClient(name, plan, namespace);
  await waitForPodPhase(namespace, name, ['Succeeded', 'Failed']);
  return clientLines(name, namespace);
}
