import type {
  V1NetworkPolicy,
  V1NetworkPolicyEgressRule,
  V1NetworkPolicyPeer,
} from '@kubernetes/client-node';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { OperatorSettings } from '../settings.ts';
import { childMetadata, childName, selectorLabels } from './names.ts';

/**
 * Ingress: the sidecar's MCP and admin ports only. Egress: cluster DNS, the API server (the sidecar's
 * policy watch), the audit collector, and the destinations spec.egress allows. CIDR rules become ipBlocks.
 * Host rules are enforced by the sidecar's egress proxy, which needs the rule's ports open to public
 * addresses; private, link-local and metadata ranges stay closed unless a CIDR rule opens them.
 *
 * A NetworkPolicy is per pod: what it opens, it opens to both containers. The egress lock (egress-lock.ts,
 * settings.egressLock) narrows that inside the pod to the sidecar's UID, so everything below is in effect
 * the sidecar's egress, and the server container's is the proxy's policy alone.
 */
const NON_PUBLIC_V4 = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
];

const tcp = (port: number) => ({ protocol: 'TCP', port });

export function buildNetworkPolicy(server: McpServer, settings: OperatorSettings): V1NetworkPolicy {
  const egress: V1NetworkPolicyEgressRule[] = [
    {
      to: [
        {
          namespaceSelector: { matchLabels: settings.dns.namespaceLabels },
          podSelector: { matchLabels: settings.dns.podLabels },
        },
      ],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
  ];
  if (settings.apiServerCidrs.length > 0) {
    egress.push({
      to: settings.apiServerCidrs.map((cidr): V1NetworkPolicyPeer => ({ ipBlock: { cidr } })),
      ports: [tcp(settings.apiServerPort)],
    });
  }
  if (settings.collector) {
    egress.push({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': settings.collector.namespace } },
          podSelector: { matchLabels: settings.collector.podLabels },
        },
      ],
      ports: [tcp(settings.collector.port)],
    });
  }
  for (const rule of server.spec.egress?.allow ?? []) {
    const ports = rule.ports.map(tcp);
    if (rule.cidr) egress.push({ to: [{ ipBlock: { cidr: rule.cidr } }], ports });
    else egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: NON_PUBLIC_V4 } }], ports });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(server, childName(server)),
    spec: {
      podSelector: { matchLabels: selectorLabels(server) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [tcp(settings.sidecarPort), tcp(settings.adminPort)] }],
      egress,
    },
  };
}
