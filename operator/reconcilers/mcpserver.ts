import type { V1Deployment, V1Namespace } from '@kubernetes/client-node';
import { mcpServer, type McpServer, type ToolPolicy } from '../../api/v1alpha1/resources.ts';
import type { McpServerStatus } from '../../api/v1alpha1/mcpserver.ts';
import { cel } from '../../policy/cel.ts';
import { compile, targets } from '../../policy/compile.ts';
import { buildChildren } from '../builders/index.ts';
import { childName, selectorLabels } from '../builders/names.ts';
import { endpointUrl } from '../builders/service.ts';
import type { ObjectCache } from '../../kube/informer.ts';
import { TerminalError, type ReconcileResult } from '../controller/workqueue.ts';
import type { Applier } from '../k8s/apply.ts';
import type { OperatorSettings } from '../settings.ts';
import { fleetObservation, type SidecarReport } from '../status/fleet.ts';
import { mcpServerStatus } from '../status/mcpserver-status.ts';
import { egressLockEvents } from '../status/egress-lock.ts';
import { conditionEvents } from '../status/transitions.ts';
import { killSwitchEvents } from '../status/kill-switch-events.ts';
import type { WrittenStatuses } from '../status/written-status.ts';
import { releaseRecords } from '../status/kill-switch.ts';
import type { EventRecorder } from '../k8s/events.ts';
import {
  referencedObjects,
  referencesCondition,
  uncheckedSecretsHint,
  type ObjectReference,
  type ReferenceState,
} from '../status/references.ts';

export interface McpServerReconcilerDeps {
  readonly servers: ObjectCache<McpServer>;
  readonly policies: ObjectCache<ToolPolicy>;
  readonly namespaces: ObjectCache<V1Namespace>;
  readonly deployments: ObjectCache<V1Deployment>;
  readonly applier: Applier;
  /** The status last written per server: newer than the cache until the watch catches up. */
  readonly written: WrittenStatuses<McpServerStatus>;
  readonly events?: EventRecorder;
  readonly settings: OperatorSettings;
  readonly clock: () => number;
  /** The sidecars' reports through the audit collector, when one is configured. */
  readonly reports?: { get(key: string): readonly SidecarReport[] | undefined };
  /** Looks up a ConfigMap the pods mount (spec.auth.caBundle, ...); Secrets are 'unchecked'. Absent: no check. */
  readonly references?: (namespace: string, reference: ObjectReference) => Promise<ReferenceState>;
  /**
   * Names of the pods matching `selector` that exist and are not terminating; undefined when they cannot
   * be listed (then no report is left out for its pod).
   */
  readonly livePods?: (
    namespace: string,
    selector: Readonly<Record<string, string>>,
  ) => Promise<ReadonlySet<string> | undefined>;
}

/** How soon a server with a missing referenced object is looked at again (nothing watches those objects). */
export const MISSING_REFERENCE_RECHECK_MS = 30_000;

/**
 * Level-triggered and idempotent: whatever happened, make the children and status match the McpServer,
 * its ToolPolicies and the kill switches as they are now.
 */
export async function reconcileMcpServer(
  key: string,
  deps: McpServerReconcilerDeps,
): Promise<ReconcileResult | void> {
  // 1. Read the server from the cache. Gone: its children go with it (ownerReferences, garbage collection).
  const cached = deps.servers.get(key);
  if (cached === undefined) {
    const [namespace, name] = key.split('/');
    const owned = [`/${namespace}/${name}`, `/${namespace}/${name}-mcp`, `/${namespace}/${name}-mcp-policy`];
    deps.applier.forget((k) => owned.some((suffix) => k.endsWith(suffix)));
    deps.written.forget(key);
    return;
  }
  if (cached.metadata?.deletionTimestamp) return;
  const parsed = mcpServer.safeParse(cached);
  if (!parsed.success)
    throw new TerminalError(`McpServer ${key} does not match the API: ${parsed.error.message}`);
  // Computed from the status we last wrote when the cache has not caught up with it yet.
  const server = {
    ...parsed.data,
    status: deps.written.baseline(key, parsed.data.metadata.uid, parsed.data.status),
  };
  const namespace = server.metadata.namespace ?? 'default';

  // 2. Compile its policy: the server, every ToolPolicy of its namespace, and the kill-switch annotations.
  const namespacePolicies = deps.policies.list().filter((p) => p.metadata.namespace === namespace);
  const namespaceAnnotations = deps.namespaces.get(namespace)?.metadata?.annotations ?? {};
  const compiled = compile({
    server,
    policies: namespacePolicies,
    namespaceAnnotations,
    conditions: cel,
  });
  // Their kill switches and release records, for status.killSwitch and its Events.
  const killInput = {
    server,
    namespaceAnnotations,
    policies: namespacePolicies
      .filter((policy) => targets(policy, server))
      .map((policy) => ({
        name: policy.metadata.name,
        ...(policy.metadata.annotations ? { annotations: policy.metadata.annotations } : {}),
      })),
  };

  // 3. Apply the children. A policy that does not compile changes nothing: the last good bundle stays.
  if (compiled.ok) {
    for (const child of buildChildren(server, compiled.bundle, deps.settings))
      await deps.applier.apply(child);
  }

  // 4. Observe the objects the pods mount, the workload and the sidecars' own reports; write the status.
  const lookup = deps.references;
  const observed = lookup
    ? await Promise.all(
        referencedObjects(server, deps.settings).map(async (reference) => ({
          reference,
          state: await lookup(namespace, reference),
        })),
      )
    : undefined;
  const references = observed && referencesCondition(observed, namespace);
  const workloadHint = observed && uncheckedSecretsHint(observed, namespace);
  const deployment = deps.deployments.get(`${namespace}/${childName(server)}`);
  const reports = deps.reports?.get(key);
  // Reports of pods that are gone (a rollout replaced them) do not describe what is served any more.
  const livePods =
    reports && reports.length > 0 && deps.livePods
      ? await deps.livePods(namespace, selectorLabels(server))
      : undefined;
  const staleSeconds = deps.settings.collector?.reportStaleSeconds ?? 60;
  const status = mcpServerStatus({
    server,
    compiled,
    ...(deployment
      ? {
          workload: {
            desired: deployment.spec?.replicas ?? server.spec.workload.replicas,
            replicas: deployment.status?.replicas ?? 0,
            readyReplicas: deployment.status?.readyReplicas ?? 0,
          },
        }
      : {}),
    endpoint: endpointUrl(server, deps.settings),
    now: new Date(deps.clock()).toISOString(),
    ...(reports
      ? {
          fleet: fleetObservation(
            reports,
            new Date(deps.clock() - staleSeconds * 1000).toISOString(),
            livePods,
          ),
        }
      : {}),
    ...(references ? { references } : {}),
    ...(workloadHint ? { workloadHint } : {}),
    egressLock: deps.settings.egressLock,
    namespaceAnnotations,
    policies: killInput.policies,
  });
  const written = await deps.applier.applyStatus(server, 'mcpservers', status, server.status);
  if (written) deps.written.remember(key, server.metadata.uid, status);

  // 5. Tell people about kill switches (who and why), policy errors, missing references and the egress
  //    lock off (Events, once per transition).
  if (written && deps.events) {
    const before = server.status?.conditions;
    const after = status.conditions ?? [];
    const events = [
      ...killSwitchEvents(
        server.status,
        status.killSwitch ?? { engaged: false, server: false },
        releaseRecords(killInput),
      ),
      ...conditionEvents(before, after),
      ...egressLockEvents(before, after),
    ];
    for (const event of events) await deps.events.record(server, event.type, event.reason, event.message);
  }
  // The referenced objects are not watched: look again until they resolve.
  if (references?.status === 'False') return { requeueAfterMs: MISSING_REFERENCE_RECHECK_MS };
}
