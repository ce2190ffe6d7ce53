import type { V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { GROUP } from '../../api/v1alpha1/group.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { bundleName, childMetadata, childName } from './names.ts';

/**
 * Least privilege for the sidecar: read (get, list, watch) its own policy bundle and its own McpServer,
 * by name, and nothing else. list/watch with a resourceName needs a fieldSelector on metadata.name,
 * which is how the sidecar watches.
 */
export function buildRole(server: McpServer): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: childMetadata(server, childName(server)),
    rules: [
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: [bundleName(server)],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: [GROUP],
        resources: ['mcpservers'],
        resourceNames: [server.metadata.name],
        verbs: ['get', 'list', 'watch'],
      },
    ],
  };
}

export function buildRoleBinding(server: McpServer): V1RoleBinding {
  const name = childName(server);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: childMetadata(server, name),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: server.metadata.namespace ?? 'default' }],
  };
}
