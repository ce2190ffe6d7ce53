import type { V1ConfigMap } from '@kubernetes/client-node';
import { API_VERSION } from '../../api/v1alpha1/group.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { KubeClient } from '../../kube/client.ts';
import type { KubeSource } from '../../kube/credentials.ts';
import { Informer } from '../../kube/informer.ts';
import type { ResourceType } from '../../kube/resource.ts';
import { BUNDLE_KEY, bundleConfigMapName, bundleSchema } from '../../policy/bundle.ts';
import { withLiveServerKills } from '../../policy/live-kill.ts';
import { loadBundle } from '../../policy/load.ts';
import type { PolicySource } from './file-source.ts';
import { enginesNeeded, loadMissingEngines, policyEngines, type PolicyEngines } from './engines.ts';
import type { PolicyHolder } from './policy-holder.ts';

const CONFIG_MAPS: ResourceType = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};
const MCP_SERVERS: ResourceType = {
  apiVersion: API_VERSION,
  kind: 'McpServer',
  plural: 'mcpservers',
  namespaced: true,
};

/**
 * Policy from the API server, by watch (never a mounted ConfigMap: kubelet sync is a minute late). The
 * sidecar watches exactly two objects, by name, with the RBAC the operator granted for them: its policy
 * bundle and its own McpServer. The McpServer's kill-switch annotations apply directly, so they bite even
 * while the operator is stopped. Freshness is confirmed while both watches are healthy; when they are not,
 * the holder's failurePolicy decides.
 *
 * Both watches share the process's one HTTP/2 connection to the API server. A connection of its own for
 * the McpServer watch (which carries the kill switches) was measured side by side in `make bench-operator`
 * and switched no faster (p50 10 vs 9 ms, p99 40 vs 39 ms from the PATCH's answer), so it is not worth a
 * second TLS connection per pod.
 */
export interface KubernetesSourceOptions {
  /** Lean credentials in a pod (kube/load-source.ts), so client-node stays unloaded; or a KubeConfig. */
  readonly kube: KubeSource;
  readonly namespace: string;
  readonly server: string;
  readonly holder: PolicyHolder;
  readonly confirmIntervalMs?: number;
  /**
   * The McpServer watch on the process's one shared API connection with the bundle's (the default), or
   * on a connection of its own: `make bench-operator` runs both side by side to keep the choice honest.
   */
  readonly serverWatchConnection?: 'dedicated' | 'shared';
  readonly onError?: (message: string) => void;
  readonly onLoad?: (hash: string) => void;
  /** Tests: where CEL and Ajv come from (default: imported when a bundle first needs them). */
  readonly engines?: PolicyEngines;
}

export function startKubernetesSource(options: KubernetesSourceOptions): PolicySource {
  const { kube, namespace, server, holder } = options;
  const engines = options.engines ?? policyEngines;
  const report = (message: string) => {
    holder.fail(message);
    options.onError?.(message);
  };
  const watchError = (what: string) => (error: unknown, retryInMs: number) =>
    options.onError?.(
      `watch of ${what} failed (${(error as Error).message ?? String(error)}); retrying in ${retryInMs} ms`,
    );

  const bundleMap = bundleConfigMapName(server);
  const maps = new Informer<V1ConfigMap>(kube, CONFIG_MAPS, {
    namespace,
    fieldSelector: `metadata.name=${bundleMap}`,
    onError: watchError(`ConfigMap ${bundleMap}`),
  });
  const killSwitchClient =
    options.serverWatchConnection === 'dedicated' ? new KubeClient(kube) : KubeClient.for(kube);
  const servers = new Informer<McpServer>(killSwitchClient, MCP_SERVERS, {
    namespace,
    fieldSelector: `metadata.name=${server}`,
    onError: watchError(`McpServer ${server}`),
  });

  function refresh(): void | Promise<void> {
    const map = maps.get(`${namespace}/${bundleMap}`);
    if (map === undefined) return report(`policy bundle ConfigMap ${namespace}/${bundleMap} not found`);
    let decoded: unknown;
    try {
      decoded = JSON.parse(map.data?.[BUNDLE_KEY] ?? '');
    } catch {
      return report(`ConfigMap ${bundleMap} does not hold a JSON bundle under ${BUNDLE_KEY}`);
    }
    const parsed = bundleSchema.safeParse(decoded);
    if (!parsed.success)
      return report(`ConfigMap ${bundleMap} holds an invalid bundle: ${parsed.error.message}`);
    const live = servers.get(`${namespace}/${server}`);
    // Our own McpServer's annotations are the freshest word on its kill switches.
    const bundle = live ? withLiveServerKills(parsed.data, live.metadata?.annotations) : parsed.data;
    if (holder.current?.hash === bundle.hash) return holder.confirm();
    // The first bundle that needs CEL or Ajv waits for its import, then refreshes again: from the cache as it
    // is then, so a newer bundle that arrived meanwhile wins. Until then the last good policy stays.
    const loading = loadMissingEngines(enginesNeeded(bundle.policies, bundle.spec), engines);
    if (loading !== undefined)
      return loading.then(refresh).catch((error: unknown) => report((error as Error).message));
    holder.install(loadBundle(bundle, engines.conditions.value));
    options.onLoad?.(bundle.hash);
  }

  maps.onEvent(refresh);
  servers.onEvent(refresh);
  maps.start();
  servers.start();
  const confirm = setInterval(() => {
    if (maps.healthy && servers.healthy && holder.current !== undefined) holder.confirm();
  }, options.confirmIntervalMs ?? 1000);
  confirm.unref();

  const ready = Promise.all([maps.synced(), servers.synced()]).then(refresh);
  return {
    ready,
    reload: async () => refresh(),
    stop() {
      clearInterval(confirm);
      maps.stop();
      servers.stop();
      if (options.serverWatchConnection === 'dedicated') void killSwitchClient.close();
    },
  };
}
