import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';

/**
 * What the informer caches keep of an object (applied on the way in, after managedFields is gone): only
 * what the reconcilers and status read. A thousand servers' Deployments hold their pod templates, and
 * objects written with `kubectl apply` carry their whole previous self in an annotation.
 */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** McpServers and ToolPolicies: everything but kubectl's copy of the last applied object. */
export function forServerCache<T extends KubernetesObject>(object: T): T {
  const annotations = object.metadata?.annotations;
  if (annotations?.[LAST_APPLIED] === undefined) return object;
  const { [LAST_APPLIED]: _dropped, ...rest } = annotations;
  return { ...object, metadata: { ...object.metadata, annotations: rest } };
}

/** Deployments: metadata, the replica count asked for, and the replica counts observed. */
export function forDeploymentCache(deployment: V1Deployment): V1Deployment {
  const { replicas, readyReplicas, availableReplicas, updatedReplicas, observedGeneration } =
    deployment.status ?? {};
  return {
    apiVersion: deployment.apiVersion,
    kind: deployment.kind,
    metadata: deployment.metadata,
    spec: { replicas: deployment.spec?.replicas } as V1Deployment['spec'],
    status: { replicas, readyReplicas, availableReplicas, updatedReplicas, observedGeneration },
  } as V1Deployment;
}
