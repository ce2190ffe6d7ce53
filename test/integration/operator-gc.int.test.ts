import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { loadExample } from '../fixtures/examples.ts';
import { kubeConfigFor, statusOf } from '../harness/kube.ts';
import { createAll, waitFor } from '../harness/operator-e2e.ts';

/**
 * Deleting an McpServer leaves nothing behind: every child carries a controller ownerReference, and
 * kube-controller-manager's garbage collector (which sees our CRD from its start, see global-setup.ts)
 * deletes them. The operator must not bring any of them back.
 */
const namespace = `og-${randomBytes(3).toString('hex')}`;
const CHILDREN = [
  ['v1', 'ServiceAccount', 'billing-mcp'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'billing-mcp'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'billing-mcp'],
  ['v1', 'ConfigMap', 'billing-mcp-policy'],
  ['v1', 'Service', 'billing-mcp'],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'billing-mcp'],
  ['apps/v1', 'Deployment', 'billing-mcp'],
] as const;

describe('operator: deleting an McpServer', () => {
  let kube: KubeConfig;
  let operator: RunningOperator | undefined;
  let objects: KubernetesObjectApi;
  const childStatuses = () =>
    Promise.all(
      CHILDREN.map(([apiVersion, kind, name]) =>
        statusOf(objects.read({ apiVersion, kind, metadata: { name, namespace } })),
      ),
    );

  beforeAll(async () => {
    kube = kubeConfigFor('admin');
    objects = KubernetesObjectApi.makeApiClient(kube);
    await kube.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const billing = loadExample('billing.yaml');
    await createAll(
      kube,
      [...billing.servers, ...billing.policies].map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace },
      })),
    );
    operator = await startOperator({
      kube,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await kube
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('garbage-collects all seven children, and the operator recreates none', async () => {
    await waitFor('every child of billing', childStatuses, (s) => s.every((code) => code === 200));
    await kube.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    });
    const started = Date.now();
    // Well inside the 30 s the collector would need to discover a CRD installed after it started.
    await waitFor(
      'every child to be collected',
      childStatuses,
      (s) => s.every((code) => code === 404),
      15_000,
      100,
    );
    const took = Date.now() - started;
    // The operator had its chance to react to the deletion (and the Deployment's) by now: still nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(await childStatuses()).toEqual(CHILDREN.map(() => 404));
    expect(took).toBeLessThan(15_000);
  });
});
