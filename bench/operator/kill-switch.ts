// Phase 1 of make bench-operator: kill-switch propagation. One McpServer and its bundle (compiled by the
// real operator, which is then stopped), WATCHERS kubernetes policy sources watching them as the server's
// ServiceAccount, and one real sidecar answering calls. The kill-switch annotation is flipped FLIPS times
// each way; we time each watcher's PolicyHolder install and the sidecar's first refused (or, on release,
// first allowed) call from the write. Every loop is bounded in count and time; traffic stays on loopback.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { KILL_REASON, KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';
import { kubeRequest } from '../../kube/rest.ts';
import { startOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { startKubernetesSource } from '../../sidecar/policy/kubernetes-source.ts';
import { PolicyHolder } from '../../sidecar/policy/policy-holder.ts';
import type { PolicySource } from '../../sidecar/policy/file-source.ts';
import { startHttpFixture } from '../../test/fixtures/mcp/http-fixture.ts';
import { startSidecarUnderTest } from '../../test/harness/sidecar-under-test.ts';
import { round, sleep, summary } from './stats.ts';

const root = join(import.meta.dirname, '../..');
const NAMESPACE = 'bench-kill';
const SERVER = 'billing';
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const SUPPORT = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};

export interface KillSwitchOptions {
  readonly admin: KubeConfig;
  readonly watchers: number;
  readonly flips: number;
  /** Gap between calls of the sidecar poller. */
  readonly pollGapMs: number;
  /** Budget for one flip to reach every watcher and the sidecar. */
  readonly flipTimeoutMs: number;
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function killSwitchPhase(options: KillSwitchOptions): Promise<Record<string, unknown>> {
  const { admin } = options;
  const core = admin.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(admin);

  // 1. The billing fixture (server + policies) in its own namespace; the real operator compiles its
  //    bundle, RBAC and ServiceAccount, and is stopped: the sidecars' own McpServer watch carries the switch.
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  const dir = join(root, 'test/fixtures/policies/billing');
  for (const file of ['server.yaml', 'policies.yaml', 'diagnostics.yaml']) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const object = doc.toJS() as { metadata: Record<string, unknown> };
      await objects.create({ ...object, metadata: { ...object.metadata, namespace: NAMESPACE } } as never);
    }
  }
  const operator = await startOperator({
    kube: admin,
    settings: operatorSettingsSchema.parse({}),
    namespace: NAMESPACE,
    workers: 2,
  });
  await until(
    async () =>
      (await core.readNamespacedConfigMap({ namespace: NAMESPACE, name: `${SERVER}-mcp-policy` })).data
        ? true
        : undefined,
    30_000,
    'the policy bundle',
  );
  // Children are applied in order (ServiceAccount, Role, RoleBinding, bundle, ...): the bundle implies RBAC.
  await operator.stop();

  // 2. The server's identity, as its pod would have it: a ServiceAccount token.
  const token = await core.createNamespacedServiceAccountToken({
    namespace: NAMESPACE,
    name: `${SERVER}-mcp`,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const asServer = (): KubeConfig => {
    const kube = new KubeConfig();
    kube.loadFromOptions({
      clusters: [{ name: 'test', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
      users: [{ name: `${SERVER}-mcp`, token: token.status!.token! }],
      contexts: [{ name: 'pod', cluster: 'test', user: `${SERVER}-mcp`, namespace: NAMESPACE }],
      currentContext: 'pod',
    });
    return kube;
  };

  // 3. The watchers: each a real kubernetes policy source (two watches, by name) with its own holder.
  interface Watcher {
    readonly connection: 'dedicated' | 'shared';
    readonly holder: PolicyHolder;
    readonly source: PolicySource;
    /** When the holder last installed a policy, and whether that policy had the server killed. */
    last: { at: number; killed: boolean };
  }
  const watchers: Watcher[] = [];
  // Every other watcher gives its McpServer watch a connection of its own (the sidecar's default shares
  // one with the bundle watch): both kinds see the same flips, so the comparison is within one run.
  for (let i = 0; i < options.watchers; i++) {
    const holder = new PolicyHolder();
    const connection = i % 2 === 0 ? 'shared' : 'dedicated';
    const watcher: Watcher = {
      connection,
      holder,
      source: startKubernetesSource({
        kube: asServer(),
        namespace: NAMESPACE,
        server: SERVER,
        holder,
        serverWatchConnection: connection,
      }),
      last: { at: 0, killed: false },
    };
    holder.onChange(
      (policy) => (watcher.last = { at: performance.now(), killed: Boolean(policy.serverKill) }),
    );
    watchers.push(watcher);
  }
  await Promise.all(watchers.map((w) => w.source.ready));

  // 4. One real sidecar (in this process) in front of the billing fixture, with the kubernetes source.
  const upstream = await startHttpFixture('billing', { stateless: true, jsonResponse: true });
  const gate = await startSidecarUnderTest({
    policyFixture: 'billing',
    upstream: { upstreamUrl: upstream.url },
    audience: AUDIENCE,
    config: { policySource: 'kubernetes', server: `${NAMESPACE}/${SERVER}`, policyFiles: [] },
    kube: asServer(),
  });
  // The billing policy limits each subject to 5 calls/s: a pool of subjects, used round-robin, keeps the
  // 2 ms poller clear of the rate limit (each subject is used at most about once a second).
  const bearers: string[] = [];
  for (let i = 0; i < 500; i++) bearers.push(await gate.token({ ...SUPPORT, sub: `poller-${i}` }));
  let nextBearer = 0;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'list_invoices', arguments: { customer_id: 'acme' } },
  });
  const call = async (): Promise<'allowed' | 'killed' | string> => {
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${bearers[nextBearer++ % bearers.length]}`,
      },
      body,
    });
    const text = await response.text();
    if (response.status === 200) return 'allowed';
    return text.includes('"killed"') ? 'killed' : `${response.status} ${text.slice(0, 200)}`;
  };
  const warm = await call();
  if (warm !== 'allowed') throw new Error(`the sidecar does not serve the bundle: ${warm}`);
  for (let i = 0; i < 10; i++) await call(); // JIT, keep-alive

  // 5. The flips. Engage, then release, FLIPS times; each timed from the PATCH's response (and, as an
  //    upper bound, from just before the PATCH was sent).
  const path = `/apis/portcullis.dev/v1alpha1/namespaces/${NAMESPACE}/mcpservers/${SERVER}`;
  const samples = {
    engage: {
      watcherFromResponse: [] as number[],
      watcherFromSend: [] as number[],
      dedicatedWatcherFromResponse: [] as number[],
      sidecarFromResponse: [] as number[],
      sidecarFromSend: [] as number[],
      writeMs: [] as number[],
      callsBeforeRefusal: [] as number[],
    },
    release: {
      watcherFromResponse: [] as number[],
      watcherFromSend: [] as number[],
      dedicatedWatcherFromResponse: [] as number[],
      sidecarFromResponse: [] as number[],
      sidecarFromSend: [] as number[],
      writeMs: [] as number[],
      callsBeforeRefusal: [] as number[],
    },
  };
  let missed = 0;
  const unexpected: string[] = [];
  for (let flip = 0; flip < options.flips * 2; flip++) {
    const engage = flip % 2 === 0;
    const want = engage ? 'killed' : 'allowed';
    const bucket = engage ? samples.engage : samples.release;
    const deadline = performance.now() + options.flipTimeoutMs;
    let sidecarAt: number | undefined;
    let calls = 0;
    // The poller runs from just before the write until it sees the new state (bounded by the deadline).
    const poller = (async () => {
      while (performance.now() < deadline) {
        const outcome = await call().catch((error: unknown) => String(error));
        calls += 1;
        if (outcome === want) {
          sidecarAt = performance.now();
          return;
        }
        if (outcome !== 'allowed' && outcome !== 'killed' && unexpected.length < 5) unexpected.push(outcome);
        await sleep(options.pollGapMs);
      }
    })();
    const sent = performance.now();
    await kubeRequest(
      admin,
      'PATCH',
      path,
      {
        metadata: {
          annotations: engage
            ? { [KILL_SWITCH]: 'true', [KILL_REASON]: `bench flip ${flip}` }
            : { [KILL_SWITCH]: null, [KILL_REASON]: null },
        },
      },
      'application/merge-patch+json',
    );
    const responded = performance.now();
    await poller;
    while (performance.now() < deadline && watchers.some((w) => w.last.killed !== engage || w.last.at < sent))
      await sleep(2);
    bucket.writeMs.push(responded - sent);
    if (sidecarAt !== undefined) {
      bucket.sidecarFromResponse.push(sidecarAt - responded);
      bucket.sidecarFromSend.push(sidecarAt - sent);
      bucket.callsBeforeRefusal.push(calls);
    } else missed += 1;
    for (const w of watchers) {
      if (w.last.killed !== engage || w.last.at < sent) {
        missed += 1;
        continue;
      }
      if (w.connection === 'dedicated') {
        bucket.dedicatedWatcherFromResponse.push(w.last.at - responded);
        continue;
      }
      bucket.watcherFromResponse.push(w.last.at - responded);
      bucket.watcherFromSend.push(w.last.at - sent);
    }
    await sleep(100); // let confirmations and stray events settle before the next flip
  }

  for (const w of watchers) w.source.stop();
  await gate.stop();
  await upstream.close();

  const describe = (b: typeof samples.engage) => ({
    writeRoundTrip: summary(b.writeMs),
    watcherInstallFromWriteResponse: summary(b.watcherFromResponse),
    watcherInstallFromWriteSent: summary(b.watcherFromSend),
    dedicatedConnectionWatcherInstallFromWriteResponse: summary(b.dedicatedWatcherFromResponse),
    sidecarFirstRefusalFromWriteResponse: summary(b.sidecarFromResponse),
    sidecarFirstRefusalFromWriteSent: summary(b.sidecarFromSend),
    sidecarCallsPerFlip: round(
      b.callsBeforeRefusal.reduce((a, c) => a + c, 0) / Math.max(1, b.callsBeforeRefusal.length),
    ),
  });
  return {
    watchers: options.watchers,
    flipsEachWay: options.flips,
    pollGapMs: options.pollGapMs,
    missed,
    unexpectedOutcomes: unexpected,
    engage: describe(samples.engage),
    release: describe(samples.release),
    note: 'watcher* figures: the sidecar default (both watches on one HTTP/2 connection); dedicatedConnection*: every other watcher, its McpServer watch on a connection of its own, in the same flips. Watchers are kubernetes policy sources (two watches each, by name, as the ServiceAccount) with their own PolicyHolder, all in the benchmark process with the real sidecar and the caller; the operator is stopped during the flips (the sidecar applies its own McpServer annotation directly). Negative from-response values: the watch event was handled before the PATCH response callback.',
  };
}
