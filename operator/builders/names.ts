import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';
import { bundleConfigMapName } from '../../policy/bundle.ts';

/**
 * Names and labels of the objects derived from an McpServer. McpServer names are at most 50 characters
 * (an API rule), so every derived name fits in 63.
 */
export const MANAGED_BY = 'portcullis-operator';
export const FIELD_MANAGER = 'portcullis-operator';

export function childName(server: McpServer): string {
  return sidecarServiceAccountName(server.metadata.name);
}

export function bundleName(server: McpServer): string {
  return bundleConfigMapName(server.metadata.name);
}

/** Labels that select the server's pods: never overridable by spec.workload.podLabels. */
export function selectorLabels(server: McpServer): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mcp-server',
    'app.kubernetes.io/instance': server.metadata.name,
    'portcullis.dev/server': server.metadata.name,
  };
}

export function commonLabels(server: McpServer): Record<string, string> {
  return {
    ...selectorLabels(server),
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/part-of': 'portcullis',
  };
}

/** Makes the McpServer the controller owner: deleting it deletes every child (garbage collection). */
export function ownerReference(server: McpServer) {
  return {
    apiVersion: server.apiVersion,
    kind: server.kind,
    name: server.metadata.name,
    uid: server.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childMetadata(server: McpServer, name: string) {
  return {
    name,
    namespace: server.metadata.namespace ?? 'default',
    labels: commonLabels(server),
    ownerReferences: [ownerReference(server)],
  };
}
