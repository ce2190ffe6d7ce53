import type { KubeConfig, KubernetesObject, V1Deployment, V1Namespace } from '@kubernetes/client-node';
import type { McpServer, ToolPolicy } from '../api/v1alpha1/resources.ts';
import type { McpServerStatus } from '../api/v1alpha1/mcpserver.ts';
import { targets } from '../policy/compile.ts';
import { MANAGED_BY } from './builders/names.ts';
import { KubeClient } from '../kube/client.ts';
import { Informer, METADATA_LIST, type InformerOptions, type Watcher } from '../kube/informer.ts';
import { InformerGroup } from '../kube/informer-group.ts';
import { objectKey, type ResourceType } from '../kube/resource.ts';
import { WorkQueue } from './controller/workqueue.ts';
import { Applier } from './k8s/apply.ts';
import { eventRecorder } from './k8s/events.ts';
import { referenceLookup } from './k8s/references.ts';
import { CHILD_TYPES, DEPLOYMENT, MCP_SERVER, NAMESPACE, TOOL_POLICY } from './k8s/kinds.ts';
import { forDeploymentCache, forServerCache } from './k8s/cache-transforms.ts';
import { reconcileMcpServer } from './reconcilers/mcpserver.ts';
import { reconcileToolPolicy } from './reconcilers/toolpolicy.ts';
import type { OperatorMetrics } from './metrics.ts';
import { SidecarReports } from './k8s/sidecar-reports.ts';
import { WrittenStatuses } from './status/written-status.ts';
import type { OperatorSettings } from './settings.ts';
import { discoverApiServerEndpoints, withApiServerEndpoints } from './k8s/api-server-endpoints.ts';

/**
 * The wiring: which events enqueue which keys. Reconcile logic lives in reconcilers/, object shapes in
 * builders/; this file only says "a ToolPolicy change re-reconciles the servers it targets (before and
 * after the change)", "a Namespace's kill switch re-reconciles its servers", and so on.
 */
export interface OperatorOptions {
  /** A KubeConfig (tests), or a client built from lean credentials (the CLI). */
  readonly kube: KubeConfig | KubeClient;
  readonly settings: OperatorSettings;
  /**
   * Watch only these namespaces (one informer per namespace and kind, so Roles in them suffice), or
   * all when undefined or empty.
   */
  readonly namespaces?: readonly string[];
  /** One namespace: the same as `namespaces: [namespace]`. */
  readonly namespace?: string;
  readonly workers?: number;
  readonly clock?: () => number;
  readonly log?: { info(o: object, m: string): void; error(o: object, m: string): void };
  readonly metrics?: OperatorMetrics;
}

export interface RunningOperator {
  readonly queue: WorkQueue;
  stop(): Promise<void>;
}

const SERVER = 'McpServer:';
const NO_API_SERVER_RULE =
  'found no endpoints of the kubernetes Service: server pods get no API server egress rule, and where NetworkPolicy is enforced their sidecars cannot watch their policy (set apiServerCidrs)';
const POLICY = 'ToolPolicy:';

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const namespaces = [
    ...new Set([...(options.namespaces ?? []), ...(options.namespace ? [options.namespace] : [])]),
  ];
  const clock = options.clock ?? Date.now;
  const client = KubeClient.for(options.kube);
  // Server pods' NetworkPolicy needs the API server's real endpoints (see api-server-endpoints.ts).
  const settings = withApiServerEndpoints(
    options.settings,
    options.settings.apiServerCidrs.length > 0
      ? undefined
      : await discoverApiServerEndpoints(client).then(
          (found) => {
            if (found === undefined) options.log?.error({}, NO_API_SERVER_RULE);
            return found;
          },
          (error: unknown) => {
            options.log?.error({ err: error }, NO_API_SERVER_RULE);
            return undefined;
          },
        ),
  );
  const onError = (error: unknown, retry: number) =>
    options.log?.error({ err: error, retry }, 'watch failed; retrying');
  // Cluster-wide: one informer per kind. Namespaced: one per kind and namespace.
  const watch = <T extends KubernetesObject>(
    type: ResourceType,
    extra: InformerOptions<T> = {},
  ): Watcher<T> =>
    namespaces.length === 0
      ? new Informer<T>(client, type, { ...extra, onError })
      : new InformerGroup(
          namespaces.map((namespace) => new Informer<T>(client, type, { ...extra, namespace, onError })),
        );
  const managedOnly = { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}` };
  const servers = watch<McpServer>(MCP_SERVER, { transform: forServerCache });
  const policies = watch<ToolPolicy>(TOOL_POLICY, { transform: forServerCache });
  // Only their annotations (kill switches) matter. Namespaced, each is read by name: a Role in that
  // namespace can grant it, where listing Namespaces needs a ClusterRole.
  const namespaceWatcher: Watcher<V1Namespace> =
    namespaces.length === 0
      ? new Informer<V1Namespace>(client, NAMESPACE, { metadataOnly: true, onError })
      : new InformerGroup(
          namespaces.map(
            (name) => new Informer<V1Namespace>(client, NAMESPACE, { name, metadataOnly: true, onError }),
          ),
        );
  const deployments = watch<V1Deployment>(DEPLOYMENT, { ...managedOnly, transform: forDeploymentCache });
  const applier = new Applier(client);
  // Our other children, metadata only (labelled ours): after a restart an unchanged child is recognised
  // by its digest annotation instead of being applied again, and a child someone deleted is put back.
  const children = CHILD_TYPES.map((type) =>
    watch<KubernetesObject>(type, { ...managedOnly, metadataOnly: true }),
  );
  const kindOf = (key: string) => key.slice(0, key.indexOf(':'));
  const queue = new WorkQueue({
    onError: (key, error, retry) => {
      options.log?.error({ key, err: error, retryInMs: retry }, 'reconcile failed');
      if (retry !== undefined) options.metrics?.retries.inc({ kind: kindOf(key) });
    },
    onProcessed: (key, durationMs, outcome) => {
      options.metrics?.reconciles.inc({ kind: kindOf(key), outcome });
      options.metrics?.reconcileDuration.observe({ kind: kindOf(key) }, durationMs / 1000);
      options.metrics?.queueDepth.set(queue.depth);
    },
  });

  const enqueueServer = (server: { metadata?: { namespace?: string; name?: string } }) =>
    queue.add(SERVER + objectKey(server));
  const serversTargetedBy = (policy: ToolPolicy | undefined) =>
    policy ? servers.list().filter((server) => targets(policy, server)) : [];

  servers.onEvent((_type, server) => {
    enqueueServer(server);
    // A server's labels decide which selector policies target it: their status lists it.
    for (const policy of policies.list())
      if (policy.metadata.namespace === server.metadata.namespace) queue.add(POLICY + objectKey(policy));
  });
  policies.onEvent((_type, policy, previous) => {
    queue.add(POLICY + objectKey(policy));
    for (const server of [...serversTargetedBy(previous), ...serversTargetedBy(policy)])
      enqueueServer(server);
  });
  namespaceWatcher.onEvent((_type, ns, previous) => {
    if (
      JSON.stringify(ns.metadata?.annotations ?? {}) === JSON.stringify(previous?.metadata?.annotations ?? {})
    )
      return;
    for (const server of servers.list())
      if (server.metadata.namespace === ns.metadata?.name) enqueueServer(server);
  });
  for (const child of [...children, deployments] as Watcher<KubernetesObject>[]) {
    child.onEvent((type, object) => {
      if (type !== 'deleted') return applier.seed(object);
      const key = Applier.key(object);
      applier.forget((k) => k === key);
      const owner = object.metadata?.labels?.['portcullis.dev/server'];
      if (owner) queue.add(`${SERVER}${object.metadata?.namespace}/${owner}`);
    });
  }
  deployments.onEvent((_type, deployment) => {
    const labels = deployment.metadata?.labels ?? {};
    const owner = labels['portcullis.dev/server'];
    if (owner && labels['app.kubernetes.io/managed-by'] === MANAGED_BY)
      queue.add(`${SERVER}${deployment.metadata?.namespace}/${owner}`);
  });

  // Children first, so their digests are seeded before the first reconcile.
  const informers = [...children, deployments, namespaceWatcher, policies, servers];
  for (const informer of informers) informer.start();
  await Promise.all(informers.map((i) => i.synced()));

  const events = eventRecorder(client, 'portcullis-operator', clock);
  // The sidecars report through the audit collector; a server whose reports changed is reconciled.
  const reports = settings.collector
    ? new SidecarReports({
        collectorUrl: settings.collector.url,
        client,
        ...(namespaces.length > 0 ? { namespaces } : {}),
        ...(settings.collector.tokenFile ? { tokenFile: settings.collector.tokenFile } : {}),
        intervalMs: settings.collector.reportIntervalSeconds * 1000,
        onChange: (key) => queue.add(`${SERVER}${key}`),
        ...(options.log ? { log: options.log } : {}),
      })
    : undefined;
  reports?.start();
  let podsRefusedLogged = false;
  /** The pods of one server that exist and are not terminating (one metadata-only list per status write). */
  const livePods = async (namespace: string, selector: Readonly<Record<string, string>>) => {
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    try {
      const list = await client.request<{
        items?: { metadata?: { name?: string; deletionTimestamp?: string } }[];
      }>(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent(labelSelector)}`,
        { accept: METADATA_LIST },
      );
      return new Set(
        (list.items ?? [])
          .filter((pod) => pod.metadata?.deletionTimestamp === undefined)
          .flatMap((pod) => (pod.metadata?.name ? [pod.metadata.name] : [])),
      );
    } catch (error) {
      // Without list on pods (an older chart's RBAC) the reports are used unfiltered, as before.
      if (!podsRefusedLogged)
        options.log?.error({ err: error }, 'cannot list pods; sidecar reports are not matched to live pods');
      podsRefusedLogged = true;
      return undefined;
    }
  };
  const serverDeps = {
    livePods,
    servers,
    policies,
    namespaces: namespaceWatcher,
    deployments,
    applier,
    written: new WrittenStatuses<McpServerStatus>(),
    settings,
    clock,
    events,
    references: referenceLookup(client),
    ...(reports ? { reports } : {}),
  };
  const policyDeps = { servers, policies, applier, clock };
  const running = queue.run(options.workers ?? 4, async (key) => {
    if (key.startsWith(SERVER)) return reconcileMcpServer(key.slice(SERVER.length), serverDeps);
    if (key.startsWith(POLICY)) return reconcileToolPolicy(key.slice(POLICY.length), policyDeps);
  });
  options.log?.info(
    { namespaces: namespaces.length > 0 ? namespaces : '(all)', servers: servers.list().length },
    'operator started',
  );

  return {
    queue,
    async stop() {
      reports?.stop();
      for (const informer of informers) informer.stop();
      queue.stop();
      await running;
    },
  };
}
