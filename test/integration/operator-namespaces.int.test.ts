import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AuthorizationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleSchema } from '../../policy/bundle.ts';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { kubeConfigFor, statusOf } from '../harness/kube.ts';
import { describeLog } from '../harness/log-tail.ts';
import { createAll, fixtureObjects, waitFor } from '../harness/operator-e2e.ts';
import { startSupervised, type SupervisedProcess } from '../harness/supervised-process.ts';

/**
 * `portcullis operator -n A,B` (the real command, leader election on) whose identity is a ServiceAccount
 * with Roles in A and B and a Lease Role in its own namespace, and nothing cluster-wide: it reconciles the
 * servers of A and B (a namespace kill switch included, read through the Namespace's own Role), and
 * leaves C alone.
 */
const root = join(import.meta.dirname, '../..');
const id = randomBytes(3).toString('hex');
const [nsA, nsB, nsC, nsSystem] = ['a', 'b', 'c', 'sys'].map((n) => `ons-${n}-${id}`) as [
  string,
  string,
  string,
  string,
];

/** What the operator needs in each watched namespace (namespaced mode), as the Helm chart grants it. */
const NAMESPACED_RULES: V1PolicyRule[] = [
  {
    apiGroups: ['portcullis.dev'],
    resources: ['mcpservers', 'toolpolicies'],
    verbs: ['get', 'list', 'watch'],
  },
  {
    apiGroups: ['portcullis.dev'],
    resources: ['mcpservers/status', 'toolpolicies/status'],
    verbs: ['patch'],
  },
  {
    apiGroups: [''],
    resources: ['serviceaccounts', 'configmaps', 'services'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
  },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['roles', 'rolebindings'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['networkpolicies'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
  },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
  // The Namespace itself (its kill-switch annotations): a Role in it may grant it by name.
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'watch'] },
];
const LEASE_RULES: V1PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];
// The chart's Role in `default` (both modes): the API server's endpoints, for server pods' NetworkPolicy.
const API_SERVER_ENDPOINT_RULES: V1PolicyRule[] = [
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
];

describe('operator: namespaced mode with a list of namespaces and only Roles', () => {
  let admin: KubeConfig;
  let operator: SupervisedProcess | undefined;
  let metricsUrl = '';

  const custom = () => admin.makeApiClient(CustomObjectsApi);
  const server = (namespace: string) =>
    custom().getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    }) as Promise<{ status?: { conditions?: { type: string; status: string }[] } }>;
  const ready = (s: Awaited<ReturnType<typeof server>>) =>
    s.status?.conditions?.some((c) => c.type === 'PolicyReady' && c.status === 'True') === true;
  const bundle = async (namespace: string) => {
    const map = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' });
    return bundleSchema.parse(JSON.parse(map.data!['bundle.json']!));
  };
  const log = () => (operator ? describeLog('operator', operator.logPath) : '(not started)');

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    for (const name of [nsA, nsB, nsC, nsSystem])
      await core.createNamespace({ body: { metadata: { name } } });
    await core.createNamespacedServiceAccount({
      namespace: nsSystem,
      body: { metadata: { name: 'operator' } },
    });
    const grant = async (namespace: string, rules: V1PolicyRule[], name = 'portcullis-operator') => {
      await rbac.createNamespacedRole({
        namespace,
        body: { metadata: { name }, rules },
      });
      await rbac.createNamespacedRoleBinding({
        namespace,
        body: {
          metadata: { name },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: nsSystem }],
        },
      });
    };
    await grant(nsA, NAMESPACED_RULES);
    await grant(nsB, NAMESPACED_RULES);
    await grant(nsSystem, LEASE_RULES);
    // `default` is shared by every test of the run: a name of this test's own.
    await grant('default', API_SERVER_ENDPOINT_RULES, `${nsSystem}-api-server-endpoints`);
    for (const namespace of [nsA, nsB, nsC])
      await createAll(admin, await fixtureObjects('billing', ['server.yaml', 'policies.yaml'], namespace));

    // The ServiceAccount's kubeconfig, as a file: a token and the cluster's CA, nothing else.
    const token = await core.createNamespacedServiceAccountToken({
      namespace: nsSystem,
      name: 'operator',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = admin.getCurrentCluster()!;
    const kubeconfig = join(inject('scratchDir'), `${nsSystem}.kubeconfig`);
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
        ],
        users: [{ name: 'operator', user: { token: token.status!.token } }],
        contexts: [{ name: 'operator', context: { cluster: 'test', user: 'operator' } }],
        'current-context': 'operator',
      }),
      { mode: 0o600 },
    );
    const ports = await freeLoopbackPorts(['metrics']);
    metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
    operator = await startSupervised({
      name: 'operator',
      command: process.execPath,
      args: [
        join(root, 'cli/main.ts'),
        'operator',
        '--kubeconfig',
        kubeconfig,
        '-n',
        `${nsA},${nsB}`,
        '--lease-namespace',
        nsSystem,
        '--lease-duration',
        '4s',
        '--lease-renew-deadline',
        '3s',
        '--lease-retry-period',
        '500ms',
        '--metrics-listen',
        `127.0.0.1:${ports.metrics}`,
        '--workers',
        '2',
      ],
      logPath: join(inject('scratchDir'), `${nsSystem}-operator.log`),
      stopGraceSeconds: 3,
    });
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    const core = admin?.makeApiClient(CoreV1Api);
    for (const name of [nsA, nsB, nsC, nsSystem])
      await core?.deleteNamespace({ name }).catch(() => undefined);
  });

  it('holds no cluster-wide permission (the premise)', async () => {
    const review = async (resourceAttributes: object) => {
      const result = await admin.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${nsSystem}:operator`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${nsSystem}`, 'system:authenticated'],
            resourceAttributes,
          },
        },
      });
      return result.status?.allowed ?? false;
    };
    expect(await review({ group: 'portcullis.dev', resource: 'mcpservers', verb: 'list' })).toBe(false);
    expect(await review({ resource: 'namespaces', verb: 'list' })).toBe(false);
    expect(await review({ resource: 'namespaces', verb: 'get', name: nsC, namespace: nsC })).toBe(false);
    expect(
      await review({ group: 'portcullis.dev', resource: 'mcpservers', verb: 'list', namespace: nsC }),
    ).toBe(false);
    expect(
      await review({ group: 'portcullis.dev', resource: 'mcpservers', verb: 'list', namespace: nsA }),
    ).toBe(true);
  });

  it('reconciles the servers of both listed namespaces', async () => {
    for (const namespace of [nsA, nsB]) {
      await waitFor(
        `billing in ${namespace} to be PolicyReady`,
        () => server(namespace),
        ready,
        30_000,
        100,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${log()}`);
      });
      expect((await bundle(namespace)).hash).not.toBe('');
    }
  }, 40_000);

  it('leaves a namespace that is not listed alone', async () => {
    // Both listed namespaces are done (previous test); C would have been reconciled alongside them.
    const c = await server(nsC);
    expect(c.status).toBeUndefined();
    expect(
      await statusOf(
        admin
          .makeApiClient(CoreV1Api)
          .readNamespacedConfigMap({ namespace: nsC, name: 'billing-mcp-policy' }),
      ),
    ).toBe(404);
  });

  it("recompiles on a namespace's kill switch, read with only that namespace's Role", async () => {
    await admin.makeApiClient(CoreV1Api).patchNamespace(
      {
        name: nsB,
        body: { metadata: { annotations: { 'portcullis.dev/kill-switch': 'true' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const killed = await waitFor(
      `the bundle of ${nsB} to carry the namespace kill switch`,
      () => bundle(nsB),
      (b) => b.kill.server.length > 0,
      15_000,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${log()}`);
    });
    expect(killed.kill.server).toEqual([{ source: 'Namespace', name: nsB }]);
    expect((await bundle(nsA)).kill.server).toEqual([]);
  }, 20_000);

  it('has had no permission error and holds the Lease', async () => {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) })).text();
    expect(text).toMatch(/^portcullis_operator_leader 1$/m);
    expect(log()).not.toMatch(/forbidden/i);
  });
});
