import type {
  KubernetesObject,
  V1ClusterRole,
  V1ConfigMap,
  V1Deployment,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { adminKubeConfig, createNamespace } from '../harness/collector.ts';
import {
  CHART_DIR,
  findObject,
  helm,
  parseManifests,
  renderChartText,
  renderedSettings,
  templateChart,
  upstreamCrds,
} from '../harness/helm.ts';
import { kubectl } from '../harness/kube.ts';
import { createCa } from '../harness/serving-certs.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * The Helm chart: `helm lint` (also --strict), `helm template` for several value sets, each applied to
 * the real test API server with a server-side dry run (schemas, RBAC objects, CRD-backed kinds all
 * checked by the server), what each value set must and must not render, and values the schema refuses.
 */
type Values = Record<string, unknown>;

interface ValueSet {
  readonly name: string;
  readonly values: (namespaces: { release: string; watched: string[] }) => Values;
}

let caBundle: string;

const VALUE_SETS: readonly ValueSet[] = [
  { name: 'default', values: () => ({}) },
  {
    name: 'namespaced with two namespaces',
    values: ({ watched }) => ({ operator: { watchNamespaces: watched } }),
  },
  {
    name: 'PostgreSQL store, three replicas',
    values: () => ({
      collector: { replicas: 3, store: { type: 'postgres', postgres: { existingSecret: 'audit-db' } } },
    }),
  },
  {
    name: 'cert-manager TLS',
    values: () => ({
      collector: {
        tls: { caBundle, certManager: { issuerRef: { name: 'portcullis-ca', kind: 'ClusterIssuer' } } },
      },
    }),
  },
  {
    name: 'monitoring on',
    values: () => ({
      monitoring: {
        serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
        podMonitor: { enabled: true },
        dashboard: { enabled: true, annotations: { grafana_folder: 'Portcullis' } },
        prometheusRule: { enabled: true, certificateExpiry: { warningDays: 30, criticalDays: 7 } },
      },
    }),
  },
  {
    name: 'CRDs off, no user roles, no NetworkPolicies',
    values: () => ({
      crds: { install: false },
      rbac: { userRoles: { create: false } },
      networkPolicy: { enabled: false },
    }),
  },
  {
    name: 'existing TLS Secret, JWKS auth, exports, pinned digest, pull secrets',
    values: () => ({
      image: { digest: `sha256:${'ab'.repeat(32)}` },
      imagePullSecrets: ['registry-credentials'],
      operator: { nodeOptions: '--max-old-space-size=192', replicas: 3 },
      collector: {
        auth: 'jwks',
        tls: { existingSecret: 'collector-tls', caBundle },
        export: { stdout: true, otlp: { endpoint: 'https://otel.example.com:4318' } },
        store: { sqlite: { persistence: { storageClass: 'fast', size: '50Gi' } } },
      },
      networkPolicy: {
        apiServer: { cidrs: ['10.0.0.1/32'] },
        metricsFrom: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
        ],
      },
    }),
  },
];

async function dryRun(manifest: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return kubectl(
    ['apply', '--server-side', '--dry-run=server', '--field-manager=helm-chart-test', '-f', '-'],
    { input: manifest, timeoutMs: 60_000 },
  );
}

describe('helm chart', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(inject('scratchDir'), 'helm-chart-'));
    caBundle = (await createCa(dir, 'external-ca')).certPem;
    // The kinds behind the optional templates, as upstream publishes them (Go module proxy).
    const installed = await kubectl(['apply', '--server-side', '-f', '-'], {
      input: await upstreamCrds(),
      timeoutMs: 60_000,
    });
    expect(installed.stderr).toBe('');
    const established = await kubectl(
      [
        ...['wait', '--for=condition=Established', '--timeout=30s'],
        ...['crd/servicemonitors.monitoring.coreos.com', 'crd/podmonitors.monitoring.coreos.com'],
        'crd/prometheusrules.monitoring.coreos.com',
        'crd/certificates.cert-manager.io',
      ],
      { timeoutMs: 40_000 },
    );
    expect(established.code, established.stderr).toBe(0);
  }, 300_000);

  it('passes helm lint, also with --strict and with namespaced values', async () => {
    for (const args of [[], ['--strict'], ['--strict', '--set', 'operator.watchNamespaces={a,b}']]) {
      const result = await helm(['lint', CHART_DIR, ...args]);
      expect(result.code, `${args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('0 chart(s) failed');
    }
  });

  describe.each(VALUE_SETS)('$name', ({ name, values }) => {
    let release: string;
    let watched: string[];
    let objects: KubernetesObject[];
    let manifest: string;

    beforeAll(async () => {
      const admin = adminKubeConfig();
      release = await createNamespace(admin, 'helm');
      watched = [await createNamespace(admin, 'helm-a'), await createNamespace(admin, 'helm-b')];
      manifest = await renderChartText(values({ release, watched }), { release: 'pc', namespace: release });
      objects = parseManifests(manifest);
    });

    it('is accepted by the API server (server-side apply, dry run)', async () => {
      const result = await dryRun(manifest);
      expect(result.code, result.stderr).toBe(0);
      const applied = result.stdout
        .split('\n')
        .filter((line) => line.includes('serverside-applied (server dry run)'));
      expect(applied.length, `${name}: ${result.stdout}`).toBe(objects.length);
    });

    it('renders operator settings the operator accepts, pointing sidecars at the collector over HTTPS', () => {
      const settings = operatorSettingsSchema.parse(parseYaml(renderedSettings(objects)));
      expect(settings.collector?.url).toBe(`https://pc-portcullis-collector.${release}.svc:8443`);
      expect(settings.sidecarImage).toMatch(/^ghcr\.io\/portcullis-dev\/portcullis[:@]/);
      const settingsText = renderedSettings(objects);
      expect(settingsText).toContain('-----BEGIN CERTIFICATE-----');
    });

    it('runs every container non-root on a read-only root filesystem with no capabilities', () => {
      for (const deployment of objects.filter((o): o is V1Deployment => o.kind === 'Deployment')) {
        const pod = deployment.spec!.template.spec!;
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        for (const container of pod.containers) {
          expect(container.securityContext).toMatchObject({
            runAsNonRoot: true,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          });
        }
      }
    });
  });

  describe('what each value set renders', () => {
    const render = async (values: Values) =>
      parseManifests(await renderChartText(values, { release: 'pc', namespace: 'portcullis-system' }));
    const names = (objects: readonly KubernetesObject[], kind: string) =>
      objects.filter((o) => o.kind === kind).map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name}`);

    it('default: two leader-elected operators with a PDB, a ClusterRole, SQLite on a volume, Helm TLS', async () => {
      const objects = await render({});
      const operator = findObject<V1Deployment>(objects, 'Deployment', '-operator');
      expect(operator.spec?.replicas).toBe(2);
      const args = operator.spec!.template.spec!.containers[0]!.args!;
      expect(args).toContain('--leader-elect=true');
      expect(args).toContain('--lease-namespace=portcullis-system');
      expect(args.some((a) => a.startsWith('--namespace'))).toBe(false);
      expect(
        operator.spec!.template.spec!.affinity?.podAntiAffinity
          ?.preferredDuringSchedulingIgnoredDuringExecution,
      ).toHaveLength(1);
      expect(findObject<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget').spec?.minAvailable).toBe(1);
      expect(names(objects, 'ClusterRole')).toEqual([
        '/pc-portcullis-operator',
        '/pc-portcullis-view',
        '/pc-portcullis-audit-reader',
        '/pc-portcullis-kill-switch',
      ]);
      expect(names(objects, 'Role')).toEqual([
        'portcullis-system/pc-portcullis-operator-leader-election',
        'default/pc-portcullis-operator-api-server-endpoints',
      ]);
      expect(names(objects, 'CustomResourceDefinition')).toEqual([
        '/mcpservers.portcullis.dev',
        '/toolpolicies.portcullis.dev',
      ]);
      for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition'))
        expect(crd.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');

      const collector = findObject<V1Deployment>(objects, 'Deployment', '-collector');
      expect(collector.spec?.replicas).toBe(1);
      expect(collector.spec?.strategy?.type).toBe('Recreate');
      expect(collector.spec!.template.spec!.containers[0]!.args).toEqual(
        expect.arrayContaining([
          '--store=sqlite',
          '--tls-cert-file=/etc/portcullis/tls/tls.crt',
          '--tls-key-file=/etc/portcullis/tls/tls.key',
        ]),
      );
      expect(names(objects, 'PersistentVolumeClaim')).toEqual([
        'portcullis-system/pc-portcullis-collector-data',
      ]);
      expect(names(objects, 'Secret')).toEqual(['portcullis-system/pc-portcullis-collector-tls']);
      expect(names(objects, 'NetworkPolicy')).toHaveLength(2);
      // A migration that rewrites the events table runs before the collector listens: an hour, then liveness.
      const startup = collector.spec!.template.spec!.containers[0]!.startupProbe;
      expect(startup?.httpGet?.path).toBe('/healthz');
      expect((startup?.periodSeconds ?? 0) * (startup?.failureThreshold ?? 0)).toBe(3600);
    });

    it('collector.startupTimeoutSeconds: the startup probe waits at least that long', async () => {
      const objects = await render({ collector: { startupTimeoutSeconds: 95 } });
      const collector = findObject<V1Deployment>(objects, 'Deployment', '-collector');
      const startup = collector.spec!.template.spec!.containers[0]!.startupProbe;
      expect([startup?.periodSeconds, startup?.failureThreshold]).toEqual([10, 10]);
    });

    it('namespaced: a Role in each listed namespace, no cluster-wide grant for the operator', async () => {
      const objects = await render({ operator: { watchNamespaces: ['team-a', 'team-b'] } });
      const operator = findObject<V1Deployment>(objects, 'Deployment', '-operator');
      expect(operator.spec!.template.spec!.containers[0]!.args).toContain('--namespace=team-a,team-b');
      expect(names(objects, 'ClusterRole')).not.toContain('/pc-portcullis-operator');
      expect(names(objects, 'ClusterRoleBinding')).toEqual(['/pc-portcullis-collector-auth-delegator']);
      expect(names(objects, 'Role')).toEqual([
        'team-a/pc-portcullis-operator',
        'team-b/pc-portcullis-operator',
        'portcullis-system/pc-portcullis-operator-leader-election',
        'default/pc-portcullis-operator-api-server-endpoints',
      ]);
      const role = findObject<V1Role>(objects, 'Role', '-operator', 'team-a');
      expect(role.rules).toContainEqual({
        apiGroups: [''],
        resources: ['namespaces'],
        resourceNames: ['team-a'],
        verbs: ['get', 'list', 'watch'],
      });
      const policy = findObject<V1NetworkPolicy>(objects, 'NetworkPolicy', '-collector');
      expect(
        (policy.spec?.ingress?.[0] as unknown as { from: { namespaceSelector?: unknown }[] }).from[0]
          ?.namespaceSelector,
      ).toEqual({
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] },
        ],
      });
    });

    it('the operator holds what the Roles it creates grant (RBAC escalation prevention)', async () => {
      const objects = await render({});
      const rules = findObject<V1ClusterRole>(objects, 'ClusterRole', '-operator').rules!;
      const holds = (group: string, resource: string, verb: string) =>
        rules.some(
          (r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes(verb),
        );
      for (const verb of ['get', 'list', 'watch']) {
        expect(holds('', 'configmaps', verb)).toBe(true);
        expect(holds('portcullis.dev', 'mcpservers', verb)).toBe(true);
      }
      expect(rules.flatMap((r) => r.verbs)).not.toContain('escalate');
      expect(rules.flatMap((r) => r.verbs)).not.toContain('bind');
      expect(rules.flatMap((r) => r.verbs)).not.toContain('delete');
      expect(rules.flatMap((r) => r.resources)).not.toContain('secrets');
      // Pods: list only (which reporting pods still exist), never get, exec, logs or writes.
      expect(rules.filter((r) => r.resources?.some((x) => x.startsWith('pods')))).toEqual([
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      ]);
      const noCollector = await render({ collector: { enabled: false } });
      const without = findObject<V1ClusterRole>(noCollector, 'ClusterRole', '-operator').rules!;
      expect(without.flatMap((r) => r.resources)).not.toContain('pods');
    });

    it("lists the kubernetes Service's EndpointSlices in default, and nothing else there", async () => {
      for (const values of [{}, { operator: { watchNamespaces: ['team-a'] } }]) {
        const objects = await render(values);
        const inDefault = objects.filter((o) => o.metadata?.namespace === 'default');
        expect(inDefault.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([
          'Role/pc-portcullis-operator-api-server-endpoints',
          'RoleBinding/pc-portcullis-operator-api-server-endpoints',
        ]);
        const role = findObject<V1Role>(objects, 'Role', '-api-server-endpoints', 'default');
        expect(role.rules).toEqual([
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
        ]);
        const binding = findObject<V1RoleBinding>(objects, 'RoleBinding', '-api-server-endpoints', 'default');
        expect(binding.roleRef).toEqual({
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'pc-portcullis-operator-api-server-endpoints',
        });
        const operator = findObject<V1Deployment>(objects, 'Deployment', '-operator');
        expect(binding.subjects).toEqual([
          {
            kind: 'ServiceAccount',
            name: operator.spec!.template.spec!.serviceAccountName,
            namespace: 'portcullis-system',
          },
        ]);
      }
    });

    it('PostgreSQL: several replicas, rolling updates, the URL from a Secret file, no volume claim', async () => {
      const objects = await render({
        collector: {
          replicas: 3,
          store: { type: 'postgres', postgres: { existingSecret: 'audit-db', secretKey: 'dsn' } },
        },
      });
      const collector = findObject<V1Deployment>(objects, 'Deployment', '-collector');
      expect(collector.spec?.replicas).toBe(3);
      expect(collector.spec?.strategy).toBeUndefined();
      expect(collector.spec!.template.spec!.containers[0]!.args).toEqual(
        expect.arrayContaining(['--store=postgres', '--postgres-url-file=/etc/portcullis/postgres/url']),
      );
      expect(collector.spec!.template.spec!.volumes).toContainEqual({
        name: 'postgres',
        secret: { secretName: 'audit-db', items: [{ key: 'dsn', path: 'url' }], defaultMode: 0o400 },
      });
      expect(names(objects, 'PersistentVolumeClaim')).toEqual([]);
    });

    it('cert-manager: a Certificate for the Service names and the given CA for sidecars, no Helm key', async () => {
      const objects = await render({
        collector: { tls: { caBundle, certManager: { issuerRef: { name: 'ca', kind: 'ClusterIssuer' } } } },
      });
      expect(names(objects, 'Secret')).toEqual([]);
      const certificate = findObject<KubernetesObject & { spec: { dnsNames: string[]; secretName: string } }>(
        objects,
        'Certificate',
      );
      expect(certificate.spec.secretName).toBe('pc-portcullis-collector-tls');
      expect(certificate.spec.dnsNames).toContain('pc-portcullis-collector.portcullis-system.svc');
      const settings = operatorSettingsSchema.parse(parseYaml(renderedSettings(objects)));
      expect(settings.collector).toMatchObject({ caBundle });
      const ca = findObject<V1ConfigMap>(objects, 'ConfigMap', '-collector-ca');
      expect(ca.data?.['ca.crt']?.trim()).toBe(caBundle.trim());
    });

    it("identityProviderCa: the sidecars' IdP CA from a PEM, a ConfigMap or a Secret, one at a time", async () => {
      const pem = caBundle;
      const settingsOf = async (identityProviderCa: object) =>
        operatorSettingsSchema.parse(
          parseYaml(renderedSettings(await render({ operator: { settings: { identityProviderCa } } }))),
        ).identityProviderCa;
      expect(await settingsOf({})).toBeUndefined();
      expect(await settingsOf({ caBundle: pem })).toEqual({ caBundle: pem });
      expect(await settingsOf({ configMap: 'trust-bundle' })).toEqual({
        configMapKeyRef: { name: 'trust-bundle', key: 'ca.crt' },
      });
      expect(await settingsOf({ secret: 'trust-bundle', key: 'root.pem' })).toEqual({
        secretKeyRef: { name: 'trust-bundle', key: 'root.pem' },
      });
      await expect(settingsOf({ configMap: 'a', secret: 'b' })).rejects.toThrow(/at most one/);
    });

    it('monitoring: ServiceMonitors, a PodMonitor for sidecars, and the dashboard ConfigMap', async () => {
      const objects = await render({
        monitoring: {
          serviceMonitor: { enabled: true },
          podMonitor: { enabled: true },
          dashboard: { enabled: true },
        },
      });
      expect(names(objects, 'ServiceMonitor')).toHaveLength(2);
      expect(names(objects, 'PodMonitor')).toHaveLength(1);
      const dashboard = findObject<V1ConfigMap>(objects, 'ConfigMap', '-dashboard');
      expect(dashboard.metadata?.labels?.['grafana_dashboard']).toBe('1');
      expect(JSON.parse(dashboard.data!['portcullis.json']!)).toMatchObject({ title: 'Portcullis' });
    });

    it('CRDs off renders no CRD', async () => {
      expect(names(await render({ crds: { install: false } }), 'CustomResourceDefinition')).toEqual([]);
    });
  });

  describe('values the schema (or the templates) refuse', () => {
    const refusals: { values: Values; says: RegExp }[] = [
      { values: { replicas: 2 }, says: /additional properties 'replicas' not allowed/ },
      { values: { operator: { replica: 2 } }, says: /additional properties 'replica' not allowed/ },
      { values: { operator: { replicas: 'two' } }, says: /operator\/replicas/ },
      { values: { operator: { watchNamespaces: ['Team_A'] } }, says: /watchNamespaces\/0/ },
      { values: { operator: { settings: { egressLock: 'Off' } } }, says: /egressLock/ },
      { values: { collector: { replicas: 2 } }, says: /collector\/replicas': value must be 1/ },
      { values: { collector: { store: { type: 'postgres' } } }, says: /existingSecret/ },
      { values: { collector: { store: { type: 'mysql' } } }, says: /collector\/store\/type/ },
      { values: { collector: { tls: { existingSecret: 'mine' } } }, says: /caBundle/ },
      {
        values: { collector: { tls: { certManager: { issuerRef: { name: 'ca' } } } } },
        says: /caBundle/,
      },
      { values: { collector: { retention: 'forever' } }, says: /retention/ },
      { values: { image: { pullPolicy: 'Sometimes' } }, says: /pullPolicy/ },
      { values: { rbac: { userRoles: { viewAggregatesTo: ['cluster-admin'] } } }, says: /viewAggregatesTo/ },
      {
        values: { operator: { leaderElection: { enabled: false } } },
        says: /leaderElection.enabled=false needs operator.replicas=1/,
      },
      {
        // An emptyDir audit store loses the trail on every collector restart: not without saying so.
        values: { collector: { store: { sqlite: { persistence: { enabled: false } } } } },
        says: /erases every stored event.*acknowledgeEphemeral=true/,
      },
    ];

    it.each(refusals)('refuses $values', async ({ values, says }) => {
      const result = await templateChart(values);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(says);
    });
  });

  describe('NOTES.txt', () => {
    /** What `helm install` prints after the manifests (client dry run against the test API server). */
    async function notes(values: Values): Promise<string> {
      const file = join(mkdtempSync(join(inject('scratchDir'), 'helm-notes-')), 'values.json');
      // The CRDs exist already (the test control plane's), not owned by a release: leave them out.
      writeFileSync(file, JSON.stringify({ ...values, crds: { install: false } }));
      const result = await helm([
        ...['install', 'pc', CHART_DIR, '--dry-run=client', '--namespace', 'notes'],
        ...['--kubeconfig', inject('kubeconfig'), '--values', file],
      ]);
      expect(result.code, result.stderr).toBe(0);
      return result.stdout.slice(result.stdout.indexOf('NOTES:'));
    }
    const ephemeral = { enabled: false, acknowledgeEphemeral: true };

    it('warns loudly when the audit store is an emptyDir (acknowledged), and not otherwise', async () => {
      const warned = await notes({ collector: { store: { sqlite: { persistence: ephemeral } } } });
      expect(warned).toMatch(/WARNING: THE AUDIT TRAIL IS EPHEMERAL/);
      expect(warned).toMatch(/ERASES EVERY STORED AUDIT\s+EVENT/);
      const persistent = await notes({});
      expect(persistent).not.toContain('EPHEMERAL');
      expect(persistent).toContain(
        'The audit store is on PersistentVolumeClaim pc-portcullis-collector-data',
      );
      expect(persistent).toContain('storage class (the cluster default)');
      const postgres = await notes({
        collector: {
          store: { type: 'postgres', postgres: { existingSecret: 'db' }, sqlite: { persistence: ephemeral } },
        },
      });
      expect(postgres).not.toContain('EPHEMERAL');
      expect(postgres).not.toContain('PersistentVolumeClaim');
    });
  });
});
