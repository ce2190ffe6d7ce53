import { API_VERSION } from '../../api/v1alpha1/group.ts';
import type { ResourceType } from '../../kube/resource.ts';

/** The kinds the operator reads and writes, with the REST names (plural) their paths use. */
export const MCP_SERVER: ResourceType = {
  apiVersion: API_VERSION,
  kind: 'McpServer',
  plural: 'mcpservers',
  namespaced: true,
};
export const TOOL_POLICY: ResourceType = {
  apiVersion: API_VERSION,
  kind: 'ToolPolicy',
  plural: 'toolpolicies',
  namespaced: true,
};
export const NAMESPACE: ResourceType = {
  apiVersion: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
};
export const DEPLOYMENT: ResourceType = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  plural: 'deployments',
  namespaced: true,
};

/** The children of an McpServer besides its Deployment (which is watched with more than metadata). */
export const CHILD_TYPES: readonly ResourceType[] = [
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

const byKind = new Map(
  [MCP_SERVER, TOOL_POLICY, NAMESPACE, DEPLOYMENT, ...CHILD_TYPES].map((t) => [
    `${t.apiVersion}/${t.kind}`,
    t,
  ]),
);

/** The resource type of an object the operator builds; undefined for a kind it does not know. */
export function resourceTypeOf(object: { apiVersion?: string; kind?: string }): ResourceType | undefined {
  return byKind.get(`${object.apiVersion}/${object.kind}`);
}
