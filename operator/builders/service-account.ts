import type { V1ServiceAccount } from '@kubernetes/client-node';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { childMetadata, childName } from './names.ts';

/** The pod's identity. Its token is mounted into the sidecar only (see the Deployment builder). */
export function buildServiceAccount(server: McpServer): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(server, childName(server)),
    automountServiceAccountToken: false,
  };
}
