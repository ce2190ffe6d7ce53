import type { V1Service } from '@kubernetes/client-node';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { OperatorSettings } from '../settings.ts';
import { childMetadata, childName, selectorLabels } from './names.ts';

/** Plain HTTP inside the cluster; TLS terminates at the ingress or mesh in front. */
export const SERVICE_PORT = 80;

/** Exposes the sidecar's MCP port and nothing else: the server container has no way in but through it. */
export function buildService(server: McpServer, settings: OperatorSettings): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(server, childName(server)),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(server),
      // A stdio server's sessions live in one pod (its process behind the bridge): a client's next request
      // must reach the replica that answered its initialize, or it gets session_not_found.
      ...(server.spec.transport.type === 'Stdio' ? { sessionAffinity: 'ClientIP' } : {}),
      ports: [
        {
          name: 'mcp',
          port: SERVICE_PORT,
          targetPort: settings.sidecarPort,
          protocol: 'TCP',
          appProtocol: 'http',
        },
      ],
    },
  };
}

/** The in-cluster URL clients reach the server at, through its sidecar. */
export function endpointUrl(server: McpServer, settings: OperatorSettings): string {
  const host = `${childName(server)}.${server.metadata.namespace ?? 'default'}.svc.${settings.clusterDomain}`;
  const path = new URL(server.spec.auth.publicUrl).pathname;
  return `http://${host}${path}`;
}
