// A real OpenID provider in the e2e cluster (test/e2e/pods/oidc-provider.ts) behind a Service, over https
// with a private CA: what sidecars fetch their signing keys from, and client pods their tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueServingCert } from '../harness/serving-certs.ts';
import { apply, ensureNamespace, rolloutStatus } from './kube.ts';
import { scriptPodSpec } from './test-pods.ts';

export const IDP_NAMESPACE = 'portcullis-e2e-idp';
export const ISSUER = `https://oidc.${IDP_NAMESPACE}.svc.cluster.local:8443`;

export interface Caller {
  readonly clientId: string;
  readonly secret: string;
  readonly claims: Record<string, unknown>;
}

export interface Identity {
  readonly issuer: string;
  readonly caPem: string;
}

export async function deployIdentityProvider(
  image: string,
  resources: readonly string[],
  scopes: readonly string[],
  callers: readonly Caller[],
): Promise<Identity> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-idp-'));
  try {
    const ca = await createCa(dir, 'e2e-idp-ca', 7);
    const host = `oidc.${IDP_NAMESPACE}.svc`;
    const cert = await issueServingCert(ca, dir, 'oidc', [`DNS:${host}`, `DNS:${host}.cluster.local`]);
    ensureNamespace(IDP_NAMESPACE);
    const labels = { app: 'oidc' };
    const clients = Object.fromEntries(callers.map((c) => [c.clientId, { secret: c.secret, claims: c.claims }]));
    apply([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'oidc-tls', namespace: IDP_NAMESPACE },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': cert.certPem, 'tls.key': cert.keyPem },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'oidc', namespace: IDP_NAMESPACE, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              ...scriptPodSpec({
                name: 'oidc',
                namespace: IDP_NAMESPACE,
                image,
                script: 'test/e2e/pods/oidc-provider.ts',
                restartPolicy: 'Always',
                env: {
                  ISSUER,
                  RESOURCES: resources.join(','),
                  SCOPES: scopes.join(','),
                  CLIENTS: JSON.stringify(clients),
                  TLS_DIR: '/tls',
                },
                mounts: { '/tls': { secret: { secretName: 'oidc-tls' } } },
              }),
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'oidc', namespace: IDP_NAMESPACE },
        spec: { selector: labels, ports: [{ name: 'https', port: 8443, targetPort: 8443 }] },
      },
    ]);
    rolloutStatus(IDP_NAMESPACE, 'deployment/oidc');
    return { issuer: ISSUER, caPem: ca.certPem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
