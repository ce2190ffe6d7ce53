import { describe, expect, it } from 'vitest';
import { mcpServer, type McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { DEFAULT_SIDECAR_NODE_OPTIONS, operatorSettingsSchema, type OperatorSettings } from '../settings.ts';
import { COLLECTOR_AUDIENCE } from '../../api/audit/v1/identity.ts';
import {
  AUDIT_WAL_DIR,
  BRIDGE_SOCKET,
  buildDeployment,
  COLLECTOR_TOKEN_DIR,
  IDP_CA_DIR,
  IDP_CA_FILE,
  UPSTREAM_SECRETS_DIR,
} from './deployment.ts';
import { buildChildren } from './index.ts';
import { buildNetworkPolicy } from './network-policy.ts';
import { buildPolicyBundle } from './policy-bundle.ts';
import { buildRole } from './rbac.ts';
import { buildService } from './service.ts';
import { cel } from '../../policy/cel.ts';

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

/**
 * examples/billing.yaml plus what a runnable example has to leave out because it needs Secrets or a
 * database: an env value from a Secret, a minted upstream identity, egress to a CIDR.
 */
const billing = ((base: McpServer): McpServer =>
  mcpServer.parse({
    ...base,
    spec: {
      ...base.spec,
      workload: {
        ...base.spec.workload,
        env: [{ name: 'BILLING_DB_URL', secretKeyRef: { name: 'billing-db', key: 'url' } }],
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
      },
      upstreamAuth: {
        mode: 'Minted',
        minted: {
          audience: 'https://billing-api.internal.example.com',
          signingKeySecretRef: { name: 'billing-mint-key', key: 'key.pem' },
          ttlSeconds: 30,
        },
      },
      egress: { allow: [{ cidr: '10.40.0.0/16', ports: [5432] }] },
    },
  }))(example('billing.yaml'));
const docs = example('stdio-docs.yaml');

describe('builders', () => {
  it('are deterministic and owned by the McpServer', () => {
    const result = compile({
      server: billing,
      policies: loadExample('billing.yaml').policies,
      conditions: cel,
    });
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

  it("keeps a client on one replica for a stdio server (its sessions live in one pod's process)", () => {
    expect(buildService(docs, settings).spec?.sessionAffinity).toBe('ClientIP');
    expect(buildService(billing, settings).spec?.sessionAffinity).toBeUndefined();
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

  it('gives the sidecar the measured default resources, the settings override them, the spec wins', () => {
    const sidecarOf = (server: McpServer, s = settings) =>
      buildDeployment(server, s).spec!.template.spec!.containers[1]!;
    // 77-93 MiB resident fresh, ~123 MiB at 500 calls/s (docs/performance.md): a 96Mi request was too low.
    expect(sidecarOf(billing).resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });
    const bigger = operatorSettingsSchema.parse({
      sidecarResources: { requests: { memory: '192Mi' }, limits: { memory: '384Mi', cpu: '1' } },
    });
    expect(sidecarOf(billing, bigger).resources).toEqual({
      requests: { memory: '192Mi' },
      limits: { memory: '384Mi', cpu: '1' },
    });
    const own = mcpServer.parse({
      ...billing,
      spec: { ...billing.spec, sidecar: { resources: { requests: { memory: '300Mi' } } } },
    });
    expect(sidecarOf(own, bigger).resources).toEqual({ requests: { memory: '300Mi' } });
  });

  it("sets the sidecar's NODE_OPTIONS from the settings (the measured default), and none when they are empty", () => {
    const nodeOptionsOf = (s: OperatorSettings) =>
      buildDeployment(billing, s)
        .spec!.template.spec!.containers[1]!.env!.filter((e) => e.name === 'NODE_OPTIONS')
        .map((e) => e.value);
    expect(nodeOptionsOf(settings)).toEqual([DEFAULT_SIDECAR_NODE_OPTIONS]);
    expect(
      nodeOptionsOf(operatorSettingsSchema.parse({ sidecarNodeOptions: '--max-old-space-size=300' })),
    ).toEqual(['--max-old-space-size=300']);
    expect(nodeOptionsOf(operatorSettingsSchema.parse({ sidecarNodeOptions: '' }))).toEqual([]);
    // The server container never gets it: its runtime is the user's.
    const server = buildDeployment(billing, settings).spec!.template.spec!.containers[0]!;
    expect((server.env ?? []).map((e) => e.name)).not.toContain('NODE_OPTIONS');
    expect(operatorSettingsSchema.safeParse({ sidecarNodeOptions: '--a\n--b' }).success).toBe(false);
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

    const exchange = buildDeployment(example('cookbook/code-hosting.yaml'), settings).spec!.template.spec!;
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
        '--audit-linger-ms',
        '100',
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

  it('has sidecars export traces only when tracing is set, and opens the way to that collector alone', () => {
    const plain = buildDeployment(billing, settings).spec!.template.spec!;
    expect(plain.containers[1]!.args).not.toContain('--otlp-traces-endpoint');
    const traced = operatorSettingsSchema.parse({
      ...settings,
      tracing: {
        endpoint: 'http://otel-collector.observability.svc:4318/v1/traces',
        sampleRatio: 0.25,
        namespace: 'observability',
        podLabels: { app: 'otel-collector' },
      },
    });
    const pod = buildDeployment(billing, traced).spec!.template.spec!;
    expect(pod.containers[1]!.args).toEqual(
      expect.arrayContaining([
        '--otlp-traces-endpoint',
        'http://otel-collector.observability.svc:4318/v1/traces',
        '--trace-sample-ratio',
        '0.25',
      ]),
    );
    expect(buildNetworkPolicy(billing, traced).spec!.egress).toContainEqual({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
          podSelector: { matchLabels: { app: 'otel-collector' } },
        },
      ],
      ports: [{ protocol: 'TCP', port: 4318 }],
    });
    expect(() =>
      operatorSettingsSchema.parse({ tracing: { ...traced.tracing, endpoint: 'grpc://otel:4317' } }),
    ).toThrow();
  });

  it("puts the collector's CA (caBundle) beside the policy bundle and has the sidecar trust it", () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const withCa = operatorSettingsSchema.parse({
      ...settings,
      collector: { ...settings.collector, caBundle: ca },
    });
    const bundle = compile({ server: billing, policies: [] });
    if (!bundle.ok) throw new Error('billing compiles');
    const children = buildChildren(billing, bundle.bundle, withCa);
    const configMap = children.find((c) => c.kind === 'ConfigMap') as { data: Record<string, string> };
    expect(configMap.data['collector-ca.crt']).toBe(ca);
    const pod = buildDeployment(billing, withCa).spec!.template.spec!;
    expect(pod.containers[1]!.args).toEqual(
      expect.arrayContaining(['--collector-ca-file', `${COLLECTOR_TOKEN_DIR}/ca.crt`]),
    );
    const token = pod.volumes!.find((v) => v.name === 'collector-token')!;
    expect(token.projected!.sources).toContainEqual({
      configMap: { name: 'billing-mcp-policy', items: [{ key: 'collector-ca.crt', path: 'ca.crt' }] },
    });
    // Without a CA nothing is added, and naming the CA twice is refused at start-up.
    expect(buildPolicyBundle(billing, bundle.bundle).data).not.toHaveProperty('collector-ca.crt');
    const both = operatorSettingsSchema.safeParse({
      ...settings,
      collector: { ...settings.collector, caBundle: ca, caConfigMap: 'collector-ca' },
    });
    expect(both.success).toBe(false);
    const notPem = operatorSettingsSchema.safeParse({
      ...settings,
      collector: { ...settings.collector, caBundle: 'not a certificate' },
    });
    expect(notPem.success).toBe(false);
  });

  describe("the identity provider's CA", () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n';
    const withAuthCa = (caBundle: McpServer['spec']['auth']['caBundle']): McpServer => ({
      ...billing,
      spec: { ...billing.spec, auth: { ...billing.spec.auth, caBundle } },
    });
    const podOf = (server: McpServer, s = settings) => buildDeployment(server, s).spec!.template.spec!;
    const sidecarOf = (server: McpServer, s = settings) => podOf(server, s).containers[1]!;
    const bundleData = (server: McpServer, s: typeof settings) => {
      const compiled = compile({ server, policies: [] });
      if (!compiled.ok) throw new Error('billing compiles');
      const configMap = buildChildren(server, compiled.bundle, s).find((c) => c.kind === 'ConfigMap');
      return (configMap as { data: Record<string, string> }).data;
    };

    it('is not mounted when neither the McpServer nor the operator names one (system roots only)', () => {
      expect(sidecarOf(billing).args).not.toContain('--idp-ca-file');
      expect(sidecarOf(billing).volumeMounts?.some((m) => m.name === 'idp-ca')).toBe(false);
      expect(podOf(billing).volumes?.some((v) => v.name === 'idp-ca')).toBe(false);
      expect(bundleData(billing, settings)).not.toHaveProperty('idp-ca.crt');
    });

    it("mounts spec.auth.caBundle's ConfigMap key into the sidecar alone and passes --idp-ca-file", () => {
      const server = withAuthCa({ configMapKeyRef: { name: 'corp-ca', key: 'bundle.pem' } });
      const pod = podOf(server);
      expect(pod.volumes).toContainEqual({
        name: 'idp-ca',
        projected: {
          sources: [{ configMap: { name: 'corp-ca', items: [{ key: 'bundle.pem', path: 'ca.crt' }] } }],
        },
      });
      const [app, sidecar] = pod.containers;
      expect(sidecar!.volumeMounts).toContainEqual({ name: 'idp-ca', mountPath: IDP_CA_DIR, readOnly: true });
      expect(app!.volumeMounts?.some((m) => m.name === 'idp-ca')).toBe(false);
      const args = sidecar!.args!;
      expect(args[args.indexOf('--idp-ca-file') + 1]).toBe(IDP_CA_FILE);
      expect(IDP_CA_FILE).toBe(`${IDP_CA_DIR}/ca.crt`);
    });

    it("mounts spec.auth.caBundle's Secret key", () => {
      const server = withAuthCa({ secretKeyRef: { name: 'corp-ca', key: 'ca.crt' } });
      expect(podOf(server).volumes).toContainEqual({
        name: 'idp-ca',
        projected: { sources: [{ secret: { name: 'corp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] },
      });
      expect(sidecarOf(server).args).toContain('--idp-ca-file');
    });

    it('takes the operator-wide CA from a ConfigMap or Secret of the same name in the server namespace', () => {
      const fromConfigMap = operatorSettingsSchema.parse({
        ...settings,
        identityProviderCa: { configMapKeyRef: { name: 'trust-bundle', key: 'ca.crt' } },
      });
      expect(podOf(billing, fromConfigMap).volumes).toContainEqual({
        name: 'idp-ca',
        projected: {
          sources: [{ configMap: { name: 'trust-bundle', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }],
        },
      });
      const fromSecret = operatorSettingsSchema.parse({
        ...settings,
        identityProviderCa: { secretKeyRef: { name: 'trust-bundle', key: 'root.pem' } },
      });
      expect(podOf(billing, fromSecret).volumes).toContainEqual({
        name: 'idp-ca',
        projected: {
          sources: [{ secret: { name: 'trust-bundle', items: [{ key: 'root.pem', path: 'ca.crt' }] } }],
        },
      });
    });

    it('puts an operator-wide PEM beside the policy bundle, unless the McpServer names its own', () => {
      const inline = operatorSettingsSchema.parse({ ...settings, identityProviderCa: { caBundle: ca } });
      expect(bundleData(billing, inline)['idp-ca.crt']).toBe(ca);
      expect(podOf(billing, inline).volumes).toContainEqual({
        name: 'idp-ca',
        projected: {
          sources: [
            { configMap: { name: 'billing-mcp-policy', items: [{ key: 'idp-ca.crt', path: 'ca.crt' }] } },
          ],
        },
      });
      // The McpServer's own CA replaces the default: nothing is copied, its object is mounted.
      const own = withAuthCa({ configMapKeyRef: { name: 'corp-ca', key: 'ca.crt' } });
      expect(bundleData(own, inline)).not.toHaveProperty('idp-ca.crt');
      const sources = podOf(own, inline).volumes!.find((v) => v.name === 'idp-ca')!.projected!.sources!;
      expect(sources).toEqual([
        { configMap: { name: 'corp-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
      ]);
    });

    it('refuses operator settings that name the default CA twice, or not as PEM', () => {
      const parse = (identityProviderCa: unknown) =>
        operatorSettingsSchema.safeParse({ ...settings, identityProviderCa }).success;
      expect(parse({ caBundle: ca, configMapKeyRef: { name: 'a', key: 'ca.crt' } })).toBe(false);
      expect(parse({})).toBe(false);
      expect(parse({ caBundle: 'not a certificate' })).toBe(false);
      expect(parse({ secretKeyRef: { name: 'a', key: 'ca.crt' } })).toBe(true);
    });
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
      '/app/dist/examples/servers/docs.js',
    ]);
    expect(pod.initContainers?.map((c) => c.name)).toEqual(['egress-lock', 'install-stdio-bridge']);
    // The bridge installs itself from the Portcullis image (no `cp`, no shell in the image).
    const install = pod.initContainers![1]!;
    expect(install.image).toBe(settings.sidecarImage);
    expect(install.command).toEqual([
      '/usr/local/bin/portcullis-stdio-bridge',
      'install',
      '/portcullis/bridge/portcullis-stdio-bridge',
    ]);
    expect(install.args).toBeUndefined();
    expect(install.volumeMounts).toEqual([{ name: 'bridge', mountPath: '/portcullis/bridge' }]);
    expect(sidecar!.args).toEqual(expect.arrayContaining(['--upstream-socket', BRIDGE_SOCKET]));
    expect(pod.volumes).toContainEqual({ name: 'bridge', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
  });

  it('locks egress to the sidecar UID in an init container that runs first, as root with NET_ADMIN only', () => {
    const pod = buildDeployment(billing, settings).spec!.template.spec!;
    const [lock, ...others] = pod.initContainers!;
    expect(others).toEqual([]);
    expect(lock).toMatchObject({
      name: 'egress-lock',
      image: settings.sidecarImage,
      args: ['egress-lock', '--sidecar-uid', '65532'],
      volumeMounts: [{ name: 'xtables-run', mountPath: '/run' }],
    });
    expect(lock!.securityContext).toEqual({
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(lock!.volumeMounts?.some((m) => m.name === 'api-token' || m.name === 'tmp')).toBe(false);
    expect(pod.volumes).toContainEqual({
      name: 'xtables-run',
      emptyDir: { medium: 'Memory', sizeLimit: '1Mi' },
    });
    // Two fixed UIDs, the image's USER ignored: an image must not be able to pick the sidecar's.
    const [server, sidecar] = pod.containers;
    expect(sidecar!.securityContext?.runAsUser).toBe(65532);
    expect(server!.securityContext?.runAsUser).toBe(65534);
    // The shared volumes (bridge socket, 0400 Secrets) are reached through the pod group, which is the sidecar's.
    expect(pod.securityContext?.fsGroup).toBe(65532);
    for (const container of pod.containers) {
      expect(container.securityContext?.capabilities).toEqual({ drop: ['ALL'] });
    }
    expect(buildDeployment(billing, settings).spec!.template.metadata?.annotations).toEqual({
      'portcullis.dev/egress-lock': 'Enabled',
    });
    const custom = operatorSettingsSchema.parse({ sidecarUid: 4000, serverUid: 4001 });
    const customPod = buildDeployment(billing, custom).spec!.template.spec!;
    expect(customPod.initContainers![0]!.args).toEqual(['egress-lock', '--sidecar-uid', '4000']);
    expect(customPod.containers.map((c) => c.securityContext?.runAsUser)).toEqual([4001, 4000]);
  });

  it('refuses settings that give the server the sidecar UID', () => {
    const same = operatorSettingsSchema.safeParse({ sidecarUid: 65532, serverUid: 65532 });
    expect(same.success).toBe(false);
    expect(same.error?.issues[0]?.path).toEqual(['serverUid']);
    expect(operatorSettingsSchema.safeParse({ sidecarUid: 0 }).success).toBe(false);
    expect(operatorSettingsSchema.safeParse({ egressLock: 'Off' }).success).toBe(false);
  });

  it('builds today’s pod with the lock disabled, and says so on the pod', () => {
    const disabled = operatorSettingsSchema.parse({ egressLock: 'Disabled' });
    const template = buildDeployment(billing, disabled).spec!.template;
    expect(template.metadata?.annotations).toEqual({ 'portcullis.dev/egress-lock': 'Disabled' });
    expect(template.spec!.initContainers).toBeUndefined();
    expect(template.spec!.volumes?.some((v) => v.name === 'xtables-run')).toBe(false);
    for (const container of template.spec!.containers) {
      expect(container.securityContext?.runAsUser).toBeUndefined();
    }
    const stdio = buildDeployment(docs, disabled).spec!.template.spec!;
    expect(stdio.initContainers?.map((c) => c.name)).toEqual(['install-stdio-bridge']);
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
    const code = example('cookbook/code-hosting.yaml');
    const hostRule = buildNetworkPolicy(code, settings).spec!.egress!.at(-1)!;
    expect(hostRule.to?.[0]?.ipBlock?.except).toContain('169.254.0.0/16');
  });
});
