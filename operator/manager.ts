import type { KubeConfig, KubernetesObject, V1Deployment, V1Namespace } from '@kubernetes/client-node';
import { KubernetesObjectApi } from '@kubernetes/client-node';
import { API_VERSION } from '../api/v1alpha1/group.ts';
import type { McpServer, ToolPolicy } from '../api/v1alpha1/resources.ts';
import { targets } from '../policy/compile.ts';
import { MANAGED_BY } from './builders/names.ts';
import { Informer } from '../kube/informer.ts';
import { objectKey, type ResourceType } from '../kube/resource.ts';
import { WorkQueue } from './controller/workqueue.ts';
import { Applier } from './k8s/apply.ts';
import { eventRecorder } from './k8s/events.ts';
import { reconcileMcpServer } from './reconcilers/mcpserver.ts';
import { reconcileToolPolicy } from './reconcilers/toolpolicy.ts';
import type { OperatorMetrics } from './metrics.ts';
import { SidecarReports } from './k8s/sidecar-reports.ts';
import type { OperatorSettings } from './settings.ts';

/**
 * The wiring: which events enqueue which keys. Reconcile logic lives in reconcilers/, object shapes in
 * builders/; this file only says "a ToolPolicy change re-reconciles the servers it targets (before and
 * after the change)", "a Namespace's kill switch re-reconciles its servers", and so on.
 */
export interface OperatorOptions {
  readonly kube: KubeConfig;
  readonly settings: OperatorSettings;
  /** Watch one namespace, or all when undefined. */
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

const CHILD_TYPES: readonly ResourceType[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
  },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies', namespaced: true },
];
const POLICY = 'ToolPolicy:';

export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const { kube, settings, namespace } = options;
  const clock = options.clock ?? Date.now;
  const objects = KubernetesObjectApi.makeApiClient(kube);
  const managedOnlySelector = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
  const informerOptions = {
    ...(namespace ? { namespace } : {}),
    onError: (error: unknown, retry: number) =>
      options.log?.error({ err: error, retry }, 'watch failed; retrying'),
  };
  const managedOnly = { ...informerOptions, labelSelector: managedOnlySelector };
  const servers = new Informer<McpServer>(
    kube,
    objects,
    { apiVersion: API_VERSION, kind: 'McpServer', plural: 'mcpservers', namespaced: true },
    informerOptions,
  );
  const policies = new Informer<ToolPolicy>(
    kube,
    objects,
    { apiVersion: API_VERSION, kind: 'ToolPolicy', plural: 'toolpolicies', namespaced: true },
    informerOptions,
  );
  const namespaces = new Informer<V1Namespace>(
    kube,
    objects,
    { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
    {
      ...(namespace ? { fieldSelector: `metadata.name=${namespace}` } : {}),
    },
  );
  const deployments = new Informer<V1Deployment>(
    kube,
    objects,
    { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
    managedOnly,
  );
  const applier = new Applier(kube, objects);
  // Our other children, cached (small: labelled ours, managedFields dropped) so that after a restart
  // an unchanged child is recognised by its digest annotation instead of being applied again, and a
  // child someone deleted is put back.
  const children = CHILD_TYPES.map(
    (type) => new Informer<KubernetesObject>(kube, objects, type, managedOnly),
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
  namespaces.onEvent((_type, ns, previous) => {
    if (
      JSON.stringify(ns.metadata?.annotations ?? {}) === JSON.stringify(previous?.metadata?.annotations ?? {})
    )
      return;
    for (const server of servers.list())
      if (server.metadata.namespace === ns.metadata?.name) enqueueServer(server);
  });
  for (const child of [...children, deployments] as Informer<KubernetesObject>[]) {
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
  const informers = [...children, deployments, namespaces, policies, servers];
  for (const informer of informers) informer.start();
  await Promise.all(informers.map((i) => i.synced()));

  const events = eventRecorder(kube, 'portcullis-operator', clock);
  // The sidecars report through the audit collector; a server whose reports changed is reconciled.
  const reports = settings.collector
    ? new SidecarReports({
        collectorUrl: settings.collector.url,
        kube,
        ...(settings.collector.tokenFile ? { tokenFile: settings.collector.tokenFile } : {}),
        intervalMs: settings.collector.reportIntervalSeconds * 1000,
        onChange: (key) => queue.add(`${SERVER}${key}`),
        ...(options.log ? { log: options.log } : {}),
      })
    : undefined;
  reports?.start();
  const serverDeps = {
    servers,
    policies,
    namespaces,
    deployments,
    applier,
    settings,
    clock,
    events,
    ...(reports ? { reports } : {}),
  };
  const policyDeps = { servers, policies, applier, clock };
  const running = queue.run(options.workers ?? 4, async (key) => {
    if (key.startsWith(SERVER)) return reconcileMcpServer(key.slice(SERVER.length), serverDeps);
    if (key.startsWith(POLICY)) return reconcileToolPolicy(key.slice(POLICY.length), policyDeps);
  });
  options.log?.info({ namespace: namespace ?? '(all)', servers: servers.list().length }, 'operator started');

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
