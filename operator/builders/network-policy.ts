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
 * policy watch), the audit collector, the identity provider, and the destinations spec.egress allows. CIDR rules become ipBlocks.
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

const NON_PUBLIC_V6 = ['fc00::/7', 'fe80::/10', '::1/128'];

/**
 * The sidecar fetches discovery and signing keys from the identity provider (and exchanges tokens there):
 * one rule per distinct issuer/JWKS host. A NetworkPolicy cannot name a DNS name, so:
 * - an IP literal becomes its /32 (/128) on the URL's port;
 * - a name in the cluster (`<svc>.<namespace>.svc` or `<pod>.<svc>.<namespace>.svc`, with or without the
 *   cluster domain) becomes that namespace's pods on every port: the policy judges the connection after
 *   kube-proxy rewrote the Service port to the pod's, which the URL does not tell;
 * - any other name (an IdP outside the cluster) becomes public addresses, IPv4 and IPv6, on the URL's
 *   port, the private ranges staying closed as for spec.egress host rules.
 */
export function identityProviderEgress(
  server: McpServer,
  clusterDomain = 'cluster.local',
): V1NetworkPolicyEgressRule[] {
  const urls = [server.spec.auth.issuer, server.spec.auth.jwksUri].filter(
    (url): url is string => url !== undefined,
  );
  const rules = new Map<string, V1NetworkPolicyEgressRule>();
  for (const url of urls) {
    const { hostname, port, protocol } = new URL(url);
    const portNumber = port === '' ? (protocol === 'http:' ? 80 : 443) : Number(port);
    const rule = identityProviderRule(hostname.replace(/^\[|\]$/g, ''), portNumber, clusterDomain);
    rules.set(JSON.stringify(rule), rule);
  }
  return [...rules.values()];
}

function identityProviderRule(host: string, port: number, clusterDomain: string): V1NetworkPolicyEgressRule {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host))
    return { to: [{ ipBlock: { cidr: `${host}/32` } }], ports: [tcp(port)] };
  if (host.includes(':')) return { to: [{ ipBlock: { cidr: `${host}/128` } }], ports: [tcp(port)] };
  const namespace = clusterNamespace(host, clusterDomain);
  if (namespace !== undefined) {
    return { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } }] };
  }
  return {
    to: [
      { ipBlock: { cidr: '0.0.0.0/0', except: NON_PUBLIC_V4 } },
      { ipBlock: { cidr: '::/0', except: NON_PUBLIC_V6 } },
    ],
    ports: [tcp(port)],
  };
}

/** The namespace of an in-cluster Service (or a pod of a headless one) name; undefined for other names. */
function clusterNamespace(host: string, clusterDomain: string): string | undefined {
  const name = host.endsWith(`.${clusterDomain}`) ? host.slice(0, -clusterDomain.length - 1) : host;
  const labels = name.split('.');
  if (labels.at(-1) !== 'svc' || labels.length < 3 || labels.length > 4) return undefined;
  return labels.at(-2);
}

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
  if (settings.tracing) {
    const endpoint = new URL(settings.tracing.endpoint);
    egress.push({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': settings.tracing.namespace } },
          podSelector: { matchLabels: settings.tracing.podLabels },
        },
      ],
      ports: [
        tcp(endpoint.port === '' ? (endpoint.protocol === 'https:' ? 443 : 80) : Number(endpoint.port)),
      ],
    });
  }
  egress.push(...identityProviderEgress(server, settings.clusterDomain));
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
