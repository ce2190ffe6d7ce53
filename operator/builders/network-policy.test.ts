import type { V1NetworkPolicyEgressRule } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { mcpServer, type McpServer } from '../../api/v1alpha1/resources.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { withApiServerEndpoints } from '../k8s/api-server-endpoints.ts';
import { operatorSettingsSchema } from '../settings.ts';
import { buildNetworkPolicy, identityProviderEgress } from './network-policy.ts';

const PRIVATE_V4 = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '127.0.0.0/8',
];

const base = loadExample('billing.yaml').servers[0]!;

/** examples/billing.yaml with another identity provider. */
function withAuth(issuer: string, jwksUri?: string): McpServer {
  return mcpServer.parse({
    ...base,
    metadata: { ...base.metadata, uid: 'uid-1' },
    spec: { ...base.spec, auth: { ...base.spec.auth, issuer, ...(jwksUri ? { jwksUri } : {}) } },
  });
}

const publicPeers = [
  { ipBlock: { cidr: '0.0.0.0/0', except: PRIVATE_V4 } },
  { ipBlock: { cidr: '::/0', except: ['fc00::/7', 'fe80::/10', '::1/128'] } },
];
const tcp = (port: number) => [{ protocol: 'TCP', port }];

describe('identityProviderEgress', () => {
  it('opens 443 to public addresses, the private ranges closed, for an issuer outside the cluster', () => {
    expect(identityProviderEgress(withAuth('https://id.example.com/realms/acme'))).toEqual([
      { to: publicPeers, ports: tcp(443) },
    ]);
  });

  it('takes the port from the URL', () => {
    expect(identityProviderEgress(withAuth('https://id.example.com:8443/realms/acme'))).toEqual([
      { to: publicPeers, ports: tcp(8443) },
    ]);
  });

  it("opens a Service's namespace, every port, for <svc>.<namespace>.svc[.<domain>] and a headless pod's name", () => {
    const namespace = (name: string) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
    });
    // Every port: the policy sees the pod's port after kube-proxy, which the URL does not give.
    expect(identityProviderEgress(withAuth('https://oidc.ns1.svc.cluster.local:8443/realms/a'))).toEqual([
      { to: [namespace('ns1')] },
    ]);
    expect(identityProviderEgress(withAuth('https://keycloak.identity.svc/realms/a'))).toEqual([
      { to: [namespace('identity')] },
    ]);
    expect(
      identityProviderEgress(withAuth('https://keycloak-0.keycloak.identity.svc.cluster.local/')),
    ).toEqual([{ to: [namespace('identity')] }]);
    // Not the cluster's: a public name that merely contains ".svc.".
    expect(identityProviderEgress(withAuth('https://login.acme.svc.example.com/'))).toEqual([
      { to: publicPeers, ports: tcp(443) },
    ]);
  });

  it('opens the /32 of an IPv4 literal and the /128 of an IPv6 literal, and nothing public', () => {
    expect(identityProviderEgress(withAuth('https://192.0.2.7/realms/a'))).toEqual([
      { to: [{ ipBlock: { cidr: '192.0.2.7/32' } }], ports: tcp(443) },
    ]);
    expect(identityProviderEgress(withAuth('https://10.1.2.3:8443/'))).toEqual([
      { to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: tcp(8443) },
    ]);
    expect(identityProviderEgress(withAuth('https://[fd00::1]:9443/realms/a'))).toEqual([
      { to: [{ ipBlock: { cidr: 'fd00::1/128' } }], ports: tcp(9443) },
    ]);
  });

  it('adds a rule for a jwksUri on another host or port, after the issuer', () => {
    expect(
      identityProviderEgress(
        withAuth('https://oidc.ns1.svc.cluster.local:8443/realms/a', 'https://192.0.2.9:9443/keys'),
      ),
    ).toEqual([
      { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns1' } } }] },
      { to: [{ ipBlock: { cidr: '192.0.2.9/32' } }], ports: tcp(9443) },
    ]);
    expect(
      identityProviderEgress(withAuth('https://id.example.com/realms/a', 'https://id.example.com:8443/keys')),
    ).toEqual([
      { to: publicPeers, ports: tcp(443) },
      { to: publicPeers, ports: tcp(8443) },
    ]);
  });

  it('gives one rule for the same host twice, and for two public hosts on the same port', () => {
    expect(
      identityProviderEgress(
        withAuth('https://id.example.com/realms/a', 'https://id.example.com/realms/a/certs'),
      ),
    ).toEqual([{ to: publicPeers, ports: tcp(443) }]);
    expect(
      identityProviderEgress(withAuth('https://id.example.com/realms/a', 'https://keys.example.net/jwks')),
    ).toEqual([{ to: publicPeers, ports: tcp(443) }]);
    expect(
      identityProviderEgress(withAuth('https://192.0.2.7/realms/a', 'https://192.0.2.7:443/certs')),
    ).toHaveLength(1);
  });
});

describe('buildNetworkPolicy', () => {
  const settings = operatorSettingsSchema.parse({});
  const server = withAuth('https://oidc.ns1.svc.cluster.local:8443/realms/a', 'https://192.0.2.9:9443/keys');
  const egressOf = (s: typeof settings, m: McpServer = server): V1NetworkPolicyEgressRule[] =>
    buildNetworkPolicy(m, s).spec!.egress!;

  it('includes the identity provider rules after DNS and the API server, before spec.egress', () => {
    const withEgress = mcpServer.parse({
      ...server,
      spec: { ...server.spec, egress: { allow: [{ cidr: '10.40.0.0/16', ports: [5432] }] } },
    });
    const explicit = operatorSettingsSchema.parse({ apiServerCidrs: ['10.96.0.1/32'] });
    const egress = egressOf(explicit, withEgress);
    expect(egress.map((rule) => rule.ports)).toEqual([
      [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
      tcp(443),
      undefined,
      tcp(9443),
      tcp(5432),
    ]);
    expect(egress.slice(2, 4)).toEqual(identityProviderEgress(withEgress));
  });

  it('has no API server rule without apiServerCidrs, and one for the discovered endpoints and port', () => {
    expect(egressOf(settings).map((rule) => rule.ports)).toEqual([
      [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
      undefined,
      tcp(9443),
    ]);
    const discovered = withApiServerEndpoints(settings, {
      cidrs: ['10.200.0.1/32', 'fd00::a/128'],
      port: 6443,
    });
    expect(egressOf(discovered)[1]).toEqual({
      to: [{ ipBlock: { cidr: '10.200.0.1/32' } }, { ipBlock: { cidr: 'fd00::a/128' } }],
      ports: tcp(6443),
    });
  });

  it('keeps explicit apiServerCidrs and apiServerPort over discovered ones', () => {
    const explicit = operatorSettingsSchema.parse({ apiServerCidrs: ['10.96.0.1/32'], apiServerPort: 8443 });
    const egress = egressOf(withApiServerEndpoints(explicit, { cidrs: ['10.200.0.1/32'], port: 6443 }));
    expect(egress[1]).toEqual({ to: [{ ipBlock: { cidr: '10.96.0.1/32' } }], ports: tcp(8443) });
    expect(JSON.stringify(egress)).not.toContain('10.200.0.1');
  });
});
