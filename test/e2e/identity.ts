// A real OpenID provider in the e2e cluster (test/e2e/pods/oidc-provider.ts) behind a Service, over https
// with a private CA: what sidecars fetch their signing keys from, and client pods their tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { exportJWK, generateKeyPair } from 'jose';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueServingCert } from '../harness/serving-certs.ts';
import { apply, ensureNamespace, kubectl, rolloutStatus } from './kube.ts';
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
  ensureNamespace(IDP_NAMESPACE);
  const tls = existingTls() ?? (await newTls());
  const labels = { app: 'oidc' };
  const clients = Object.fromEntries(
    callers.map((c) => [c.clientId, { secret: c.secret, claims: c.claims }]),
  );
  apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'oidc-tls', namespace: IDP_NAMESPACE },
      type: 'kubernetes.io/tls',
      stringData: tls,
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
  return { issuer: ISSUER, caPem: tls['ca.crt'] };
}

/** The provider's Secret: its TLS certificate, the CA that signed it, and its token signing key (a JWK). */
type TlsFiles = Record<'tls.crt' | 'tls.key' | 'ca.crt' | 'signing-key.json', string>;

/** The provider's certificate from an earlier run: kept, so running pods and trusting sidecars stay valid. */
function existingTls(): TlsFiles | undefined {
  try {
    const secret = JSON.parse(kubectl(['-n', IDP_NAMESPACE, 'get', 'secret', 'oidc-tls', '-o', 'json'])) as {
      data?: Record<string, string>;
    };
    const decode = (key: string): string => Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
    const files = {
      'tls.crt': decode('tls.crt'),
      'tls.key': decode('tls.key'),
      'ca.crt': decode('ca.crt'),
      'signing-key.json': decode('signing-key.json'),
    };
    return Object.values(files).every((text) => text !== '') ? files : undefined;
  } catch {
    return undefined;
  }
}

async function newTls(): Promise<TlsFiles> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-idp-'));
  try {
    const ca = await createCa(dir, 'e2e-idp-ca', 30);
    const host = `oidc.${IDP_NAMESPACE}.svc`;
    const cert = await issueServingCert(ca, dir, 'oidc', [`DNS:${host}`, `DNS:${host}.cluster.local`], 30);
    // Kept with the certificate: a provider that restarts keeps its key, as a real one does.
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'e2e-es256', alg: 'ES256', use: 'sig' };
    return {
      'tls.crt': cert.certPem,
      'tls.key': cert.keyPem,
      'ca.crt': ca.certPem,
      'signing-key.json': JSON.stringify(jwk),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
