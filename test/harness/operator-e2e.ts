import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { BILLING_AUDIENCE } from './sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from './sidecar-under-test.ts';
import { parseAllDocuments } from 'yaml';

/**
 * Helpers for the operator's end-to-end tests: objects from the policy fixtures, the kubeconfig a pod of
 * an McpServer would have (its ServiceAccount's token), and bounded waits that say what they waited for.
 */

/** The McpServer, ToolPolicies (and anything else) of test/fixtures/policies/<fixture>, moved to `namespace`. */
export async function fixtureObjects(
  fixture: string,
  files: readonly string[],
  namespace: string,
): Promise<KubernetesObject[]> {
  const dir = join(import.meta.dirname, '../fixtures/policies', fixture);
  const texts = await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')));
  return texts
    .flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as KubernetesObject))
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

export async function createAll(kube: KubeConfig, objects: readonly KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kube);
  for (const object of objects) await api.create(object);
}

/**
 * Credentials exactly like a pod of the server gets: a token of its ServiceAccount, the cluster's CA,
 * no client certificate. `server` overrides the API server URL (e.g. another control plane).
 */
export async function serviceAccountKubeConfig(
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
): Promise<KubeConfig> {
  const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name: serviceAccount,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: serviceAccount, token: token.status!.token }],
    contexts: [{ name: 'pod', cluster: 'test', user: serviceAccount, namespace }],
    currentContext: 'pod',
  });
  return config;
}

/**
 * Probes (errors count as "not yet") until `accept` holds; throws with `what` and the last value or
 * error once `timeoutMs` has passed. Every wait in these tests is bounded by one of these.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${shown?.slice(0, 500)}`);
    }
    await delay(intervalMs);
  }
}

/**
 * The billing fixture behind a sidecar that gets its policy from the API server as the server's
 * ServiceAccount, exactly as in its pod (the operator must already have published the bundle).
 */
export async function startKubernetesSidecar(
  admin: KubeConfig,
  namespace: string,
): Promise<{ upstream: HttpFixture; gate: SidecarUnderTest }> {
  const upstream = await startHttpFixture('billing', { stateless: true, jsonResponse: true });
  const gate = await startSidecarUnderTest({
    policyFixture: 'billing',
    upstream: { upstreamUrl: upstream.url },
    audience: BILLING_AUDIENCE,
    config: { policySource: 'kubernetes', server: `${namespace}/billing`, policyFiles: [] },
    kube: await serviceAccountKubeConfig(admin, namespace, 'billing-mcp'),
  });
  return { upstream, gate };
}
