import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { operatorSettingsSchema } from '../settings.ts';
import { COLLECTOR_AUDIENCE } from '../../api/audit/v1/identity.ts';
import {
  AUDIT_WAL_DIR,
  BRIDGE_SOCKET,
  buildDeployment,
  COLLECTOR_TOKEN_DIR,
  UPSTREAM_SECRETS_DIR,
} from './deployment.ts';
import { buildChildren } from './index.ts';
import { buildNetworkPolicy } from './network-policy.ts';
import { buildPolicyBundle } from './policy-bundle.ts';
import { buildRole } from './rbac.ts';
import { buildService } from './service.ts';

const settings = operatorSettingsSchema.parse({
  apiServerCidrs: ['10.96.0.1/32'],
  collector: {
    url: 'https://portcullis-collector.portcullis-system.svc:8443',
    namespace: 'portcullis-system',
    podLabels: { app: 'collector' },
    port: 8443,
  },
});

function example(file: string): McpServer {
  const server = loadExample(file).servers[0]!;
  return { ...server, metadata: { ...server.metadata, uid: 'uid-1', generation: 3 } };
}

const billing = example('billing.yaml');
const docs = example('stdio-docs.yaml');

describe('builders', () => {
  it('are deterministic and owned by the McpServer', () => {
    const result = compile({ server: billing, policies: loadExample('billing.yaml').policies });
    if (!result.ok) throw new Error('compile');
    const first = buildChildren(billing, result.bundle, settings);
    expect(buildChildren(billing, result.bundle, settings)).toEqual(first);
    expect(first.map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'ConfigMap',
      'Service',
      'NetworkPolicy',
      'Deployment',
    ]);
    for (const object of first) {
      expect(object.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ uid: 'uid-1', controller: true, kind: 'McpServer' }),
      ]);
      expect(object.metadata?.name?.length).toBeLessThanOrEqual(63);
    }
    expect(
      buildPolicyBundle(billing, result.bundle).metadata?.annotations?.['portcullis.dev/policy-hash'],
    ).toBe(result.bundle.hash);
  });

  it('gives the sidecar read access to its own bundle and McpServer only, by name', () => {
    const role = buildRole(billing);
    expect(role.rules).toEqual([
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['billing-mcp-policy'],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: ['portcullis.dev'],
        resources: ['mcpservers'],
        resourceNames: ['billing'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
  });

  it('exposes only the sidecar port', () => {
    const service = buildService(billing, settings);
    expect(service.spec?.ports).toEqual([
      expect.objectContaining({ port: 80, targetPort: settings.sidecarPort }),
    ]);
  });

  it('runs both containers restricted, and mounts the API token into the sidecar only', () => {
    const pod = buildDeployment(billing, settings).spec!.template.spec!;
    expect(pod.automountServiceAccountToken).toBe(false);
    const [server, sidecar] = pod.containers;
    for (const container of pod.containers) {
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(server!.volumeMounts?.some((m) => m.name === 'api-token')).toBe(false);
    expect(sidecar!.volumeMounts?.some((m) => m.name === 'api-token')).toBe(true);
    expect(server!.env).toContainEqual({
      name: 'BILLING_DB_URL',
      valueFrom: { secretKeyRef: { name: 'billing-db', key: 'url' } },
    });
    expect(server!.env).toContainEqual({
      name: 'HTTPS_PROXY',
      value: `http://127.0.0.1:${settings.egressProxyPort}`,
    });
    expect(sidecar!.args).toEqual(
      expect.arrayContaining(['--upstream', 'http://127.0.0.1:8080/mcp', '--server', 'finance/billing']),
    );
    expect(server!.resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });
  });

  it('mounts the upstream-identity secret into the sidecar only, and points its flags at it', () => {
    const minted = buildDeployment(billing, settings).spec!.template.spec!;
    expect(minted.volumes).toContainEqual({
      name: 'upstream-identity',
      secret: {
        secretName: 'billing-mint-key',
        items: [{ key: 'key.pem', path: 'signing-key.pem' }],
        defaultMode: 0o400,
      },
    });
    const [server, sidecar] = minted.containers;
    expect(sidecar!.args).toEqual(
      expect.arrayContaining(['--signing-key', `${UPSTREAM_SECRETS_DIR}/signing-key.pem`]),
    );
    expect(sidecar!.volumeMounts).toContainEqual({
      name: 'upstream-identity',
      mountPath: UPSTREAM_SECRETS_DIR,
      readOnly: true,
    });
    expect(server!.volumeMounts?.some((m) => m.name === 'upstream-identity')).toBe(false);

    const exchange = buildDeployment(example('code-hosting.yaml'), settings).spec!.template.spec!;
    expect(exchange.volumes).toContainEqual(
      expect.objectContaining({ secret: expect.objectContaining({ secretName: 'code-hosting-exchange' }) }),
    );
    expect(exchange.containers[1]!.args).toEqual(
      expect.arrayContaining(['--token-exchange-secret', `${UPSTREAM_SECRETS_DIR}/client-secret`]),
    );
    const none = buildDeployment(docs, settings).spec!.template.spec!;
    expect(none.volumes?.some((v) => v.name === 'upstream-identity')).toBe(false);
  });

  it('gives the sidecar alone a WAL volume and a token whose audience is the collector', () => {
    const pod = buildDeployment(billing, settings).spec!.template.spec!;
    const [server, sidecar] = pod.containers;
    expect(sidecar!.args).toEqual(
      expect.arrayContaining([
        '--audit-wal',
        AUDIT_WAL_DIR,
        '--collector-url',
        'https://portcullis-collector.portcullis-system.svc:8443',
        '--collector-token-file',
        `${COLLECTOR_TOKEN_DIR}/token`,
      ]),
    );
    expect(pod.volumes).toContainEqual({
      name: 'collector-token',
      projected: {
        sources: [
          {
            serviceAccountToken: {
              path: 'token',
              audience: COLLECTOR_AUDIENCE,
              expirationSeconds: 3600,
            },
          },
        ],
      },
    });
    expect(pod.volumes).toContainEqual({ name: 'audit-wal', emptyDir: { sizeLimit: '512Mi' } });
    expect(server!.volumeMounts?.some((m) => m.name === 'collector-token' || m.name === 'audit-wal')).toBe(
      false,
    );
    const withoutCollector = operatorSettingsSchema.parse({ apiServerCidrs: ['10.96.0.1/32'] });
    const plain = buildDeployment(billing, withoutCollector).spec!.template.spec!;
    expect(plain.containers[1]!.args).not.toContain('--audit-wal');
    expect(plain.volumes?.some((v) => v.name === 'audit-wal')).toBe(false);
  });

  it('bridges a stdio server through a socket in a shared in-memory volume', () => {
    const pod = buildDeployment(docs, settings).spec!.template.spec!;
    const [server, sidecar] = pod.containers;
    expect(server!.command).toEqual([
      '/portcullis/bridge/portcullis-stdio-bridge',
      '--socket',
      BRIDGE_SOCKET,
      '--',
      'node',
      '/app/server.js',
      '--stdio',
    ]);
    expect(pod.initContainers?.[0]?.name).toBe('install-stdio-bridge');
    expect(sidecar!.args).toEqual(expect.arrayContaining(['--upstream-socket', BRIDGE_SOCKET]));
    expect(pod.volumes).toContainEqual({ name: 'bridge', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
  });

  it('limits egress to DNS, the API server, the collector and spec.egress', () => {
    const policy = buildNetworkPolicy(billing, settings);
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.ingress).toEqual([
      {
        ports: [
          { protocol: 'TCP', port: 8443 },
          { protocol: 'TCP', port: 9090 },
        ],
      },
    ]);
    const egress = policy.spec!.egress!;
    expect(egress).toContainEqual({
      to: [{ ipBlock: { cidr: '10.96.0.1/32' } }],
      ports: [{ protocol: 'TCP', port: 443 }],
    });
    expect(egress).toContainEqual({
      to: [{ ipBlock: { cidr: '10.40.0.0/16' } }],
      ports: [{ protocol: 'TCP', port: 5432 }],
    });
    expect(JSON.stringify(egress)).toContain('collector');
    const code = example('code-hosting.yaml');
    const hostRule = buildNetworkPolicy(code, settings).spec!.egress!.at(-1)!;
    expect(hostRule.to?.[0]?.ipBlock?.except).toContain('169.254.0.0/16');
  });
});
