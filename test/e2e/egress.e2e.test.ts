// Egress on real pods. The stdio example (its fetch_url tool released) runs as "fetcher" with one egress
// rule: TCP 8080 in the cluster's Service and pod ranges. A listener there answers through the sidecar's
// proxy; a listener on another port in another namespace is refused; the server container cannot go
// around the proxy (egress lock); and the pod's NetworkPolicy is enforced for the sidecar too. The fetch
// rule also carries a concurrency limit, which a slow page (the listener's `delay`) makes overlap.
import { beforeAll, describe, expect, it } from 'vitest';
import { POD_CIDR, SERVICE_CIDR } from '../cluster/topology.ts';
import { ISSUER } from './identity.ts';
import { apply, ensureNamespace, kubectl, kubectlJson, rolloutStatus } from './kube.ts';
import {
  CALLERS,
  ensurePlatform,
  exampleObjects,
  FETCHER_NAMESPACE,
  FETCHER_RESOURCE,
  FETCHER_URL,
  runClient,
  waitForCondition,
  type Manifest,
} from './platform.ts';
import { scriptPodSpec } from './test-pods.ts';
import { cluster } from './context.ts';

const OTHER_NAMESPACE = 'e2e-egress-other';
/** The fetch rule's limit: fetch_url calls in flight at once, per pod. */
const FETCH_CONCURRENCY = 2;
const ALLOWED = {
  namespace: FETCHER_NAMESPACE,
  name: 'allowed',
  port: 8080,
  body: 'hello from the allowed listener',
};
const OTHER = {
  namespace: OTHER_NAMESPACE,
  name: 'other',
  port: 9090,
  body: 'hello from the other listener',
};

function listener(spec: typeof ALLOWED): Manifest[] {
  const labels = { app: spec.name };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: spec.name, namespace: spec.namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: scriptPodSpec({
            name: spec.name,
            namespace: spec.namespace,
            image: cluster().productImage,
            script: 'test/e2e/pods/http-listener.ts',
            restartPolicy: 'Always',
            env: { PORT: String(spec.port), BODY: spec.body },
          }),
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: spec.name, namespace: spec.namespace },
      spec: { selector: labels, ports: [{ port: spec.port, targetPort: spec.port }] },
    },
  ];
}

/** examples/stdio-docs.yaml as "fetcher": its issuer the in-cluster provider, fetch_url released, one egress rule. */
function fetcherObjects(caPem: string): Manifest[] {
  const [server] = exampleObjects('stdio-docs.yaml').filter((o) => o.kind === 'McpServer');
  const copy = structuredClone(server!);
  copy.metadata = { name: 'fetcher', namespace: FETCHER_NAMESPACE };
  copy.spec!.auth = {
    ...copy.spec!.auth,
    issuer: ISSUER,
    publicUrl: FETCHER_RESOURCE,
    caBundle: { configMapKeyRef: { name: 'idp-ca', key: 'ca.crt' } },
  };
  // Calls beyond a limit are refused at once rather than queued, so a burst shows the limit plainly.
  copy.spec!['limits'] = { ...(copy.spec!['limits'] as object), maxQueue: 0 };
  copy.spec!['egress'] = {
    allow: [
      { cidr: SERVICE_CIDR, ports: [ALLOWED.port] },
      { cidr: POD_CIDR, ports: [ALLOWED.port] },
    ],
  };
  return [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'idp-ca', namespace: FETCHER_NAMESPACE },
      data: { 'ca.crt': caPem },
    },
    copy,
    {
      apiVersion: 'portcullis.dev/v1alpha1',
      kind: 'ToolPolicy',
      metadata: { name: 'watchers-fetch', namespace: FETCHER_NAMESPACE },
      spec: {
        targets: { servers: ['fetcher'] },
        rules: [
          {
            name: 'fetch',
            tools: ['fetch_url'],
            subjects: { groups: ['e2e-watchers'] },
            limits: { maxConcurrency: FETCH_CONCURRENCY },
          },
        ],
      },
    },
  ];
}

interface Pod {
  metadata: { name: string };
  status: { podIP: string };
}

function podOf(namespace: string, selector: string): Pod {
  const { items } = kubectlJson<{ items: Pod[] }>([
    '-n',
    namespace,
    'get',
    'pods',
    '-l',
    selector,
    '--field-selector=status.phase=Running',
  ]);
  if (items[0] === undefined) throw new Error(`no running pod ${selector} in ${namespace}`);
  return items[0];
}

/** Opens a TCP connection from a container of a pod; resolves with "connected" or the error code. */
function connectFrom(namespace: string, pod: string, container: string, host: string, port: number): string {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(3000);s.on('connect',()=>{console.log('connected');s.destroy()});s.on('timeout',()=>{console.log('TIMEOUT');s.destroy()});s.on('error',e=>console.log(e.code))`;
  return kubectl([
    '-n',
    namespace,
    'exec',
    pod,
    '-c',
    container,
    '--',
    '/usr/local/bin/node',
    '-e',
    script,
  ]).trim();
}

async function fetchThroughTool(name: string, url: string): Promise<{ ok?: boolean; text: string }> {
  const lines = await runClient(
    name,
    {
      caller: CALLERS.watcher,
      mode: 'steps',
      steps: [{ tool: 'fetch_url', args: { url } }],
      url: FETCHER_URL,
      resource: FETCHER_RESOURCE,
    },
    FETCHER_NAMESPACE,
  );
  const line = lines.find((l) => l.tool === 'fetch_url');
  return { ok: line?.ok, text: JSON.stringify(line) };
}

describe('egress on real pods', () => {
  beforeAll(async () => {
    const { caPem } = await ensurePlatform();
    ensureNamespace(FETCHER_NAMESPACE);
    ensureNamespace(OTHER_NAMESPACE);
    apply([...listener(ALLOWED), ...listener(OTHER), ...fetcherObjects(caPem)]);
    rolloutStatus(ALLOWED.namespace, `deployment/${ALLOWED.name}`);
    rolloutStatus(OTHER.namespace, `deployment/${OTHER.name}`);
    await waitForCondition(FETCHER_NAMESPACE, 'mcpserver/fetcher', 'Ready');
  });

  it("reaches the allowed listener through the sidecar's proxy", async () => {
    const url = `http://${ALLOWED.name}.${ALLOWED.namespace}.svc.cluster.local:${ALLOWED.port}/`;
    const outcome = await fetchThroughTool('client-fetch-allowed', url);
    expect(outcome.ok, outcome.text).toBe(true);
    expect(outcome.text).toContain(ALLOWED.body);
  });

  it(`the fetch rule's concurrency limit (${FETCH_CONCURRENCY} per pod, no queue) refuses the overlap, and only allowed calls reach the listener`, async () => {
    // Five fetches of a page that takes 2 s: two hold the rule's slots, three arrive while they do. One
    // client, one session: the stdio Service's ClientIP affinity keeps them on one replica.
    const marker = `concurrency-${Date.now()}`;
    const url = `http://${ALLOWED.name}.${ALLOWED.namespace}.svc.cluster.local:${ALLOWED.port}/?delay=2000&marker=${marker}`;
    const lines = await runClient(
      'client-fetch-burst',
      {
        caller: CALLERS.watcher,
        mode: 'steps',
        steps: [{ burst: 5, tool: 'fetch_url', args: { url } }],
        url: FETCHER_URL,
        resource: FETCHER_RESOURCE,
      },
      FETCHER_NAMESPACE,
    );
    const outcomes = lines.find((line) => line.burst)?.outcomes ?? [];
    expect([...outcomes].sort(), JSON.stringify(lines)).toEqual([
      ...Array<string>(5 - FETCH_CONCURRENCY).fill('concurrency_limited'),
      ...Array<string>(FETCH_CONCURRENCY).fill('ok'),
    ]);
    // What ran is what the gate allowed: the listener saw exactly the admitted fetches.
    const seen = kubectl(['-n', ALLOWED.namespace, 'logs', `deployment/${ALLOWED.name}`])
      .split('\n')
      .filter((line) => line.includes(marker));
    expect(seen).toHaveLength(FETCH_CONCURRENCY);
  });

  it('is refused a listener the egress rules do not name', async () => {
    const url = `http://${OTHER.name}.${OTHER.namespace}.svc.cluster.local:${OTHER.port}/`;
    const outcome = await fetchThroughTool('client-fetch-other', url);
    expect(outcome.text).not.toContain(OTHER.body);
    expect(kubectl(['-n', OTHER.namespace, 'logs', `deployment/${OTHER.name}`])).not.toContain('"from"');
  });

  it('the server container cannot go around the proxy: the egress lock refuses it', () => {
    const fetcher = podOf(FETCHER_NAMESPACE, 'portcullis.dev/server=fetcher');
    const target = podOf(ALLOWED.namespace, `app=${ALLOWED.name}`).status.podIP;
    // The sidecar (its UID is let out) reaches the allowed listener; the server container does not.
    expect(connectFrom(FETCHER_NAMESPACE, fetcher.metadata.name, 'portcullis', target, ALLOWED.port)).toBe(
      'connected',
    );
    expect(connectFrom(FETCHER_NAMESPACE, fetcher.metadata.name, 'server', target, ALLOWED.port)).toMatch(
      /ECONNREFUSED|EPERM|EACCES|TIMEOUT/,
    );
  });

  it("the pod's NetworkPolicy is enforced: even the sidecar cannot reach a port no rule opens", () => {
    const fetcher = podOf(FETCHER_NAMESPACE, 'portcullis.dev/server=fetcher');
    const other = podOf(OTHER.namespace, `app=${OTHER.name}`).status.podIP;
    expect(connectFrom(FETCHER_NAMESPACE, fetcher.metadata.name, 'portcullis', other, OTHER.port)).not.toBe(
      'connected',
    );
    // Without the policy in the way, the same listener answers: it was the NetworkPolicy.
    const probe = podOf(ALLOWED.namespace, `app=${ALLOWED.name}`);
    expect(connectFrom(ALLOWED.namespace, probe.metadata.name, 'main', other, OTHER.port)).toBe('connected');
  });
});
