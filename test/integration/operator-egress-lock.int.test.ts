import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CoreV1Event, KubeConfig } from '@kubernetes/client-node';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { loadExample } from '../fixtures/examples.ts';
import { eventually } from '../harness/eventually.ts';
import { kubeConfigFor, kubectl } from '../harness/kube.ts';

/**
 * The operator setting egressLock, as a person sees it on the McpServer against the real API server: the
 * EgressLocked condition and an Event when the lock goes off (and on again), besides the pod annotation.
 */
const root = join(import.meta.dirname, '../..');
const namespace = `egl-${randomBytes(3).toString('hex')}`;

describe('operator with egressLock Disabled, then Enabled', () => {
  let kube: KubeConfig;
  let operator: RunningOperator | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;

  const egressLocked = async () => {
    const server = (await custom.getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    })) as { status?: { conditions?: { type: string; status: string; reason: string; message: string }[] } };
    return server.status?.conditions?.find((c) => c.type === 'EgressLocked');
  };
  const events = async (reason: string): Promise<CoreV1Event[]> =>
    (
      await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=billing' })
    ).items.filter((e) => e.reason === reason);
  const podTemplate = async () =>
    (await apps.readNamespacedDeployment({ namespace, name: 'billing-mcp' })).spec!.template;
  const start = async (egressLock: 'Enabled' | 'Disabled') => {
    operator = await startOperator({
      kube,
      settings: operatorSettingsSchema.parse({ egressLock }),
      namespace,
      workers: 2,
    });
  };

  beforeAll(async () => {
    kube = kubeConfigFor('admin');
    core = kube.makeApiClient(CoreV1Api);
    apps = kube.makeApiClient(AppsV1Api);
    custom = kube.makeApiClient(CustomObjectsApi);
    const crds = await kubectl(['apply', '--server-side', '-f', join(root, 'crds')]);
    expect(crds.code).toBe(0);
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/mcpservers.portcullis.dev']);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const objects = KubernetesObjectApi.makeApiClient(kube);
    const billing = loadExample('billing.yaml');
    for (const object of [...billing.servers, ...billing.policies]) {
      await objects.create({ ...object, metadata: { ...object.metadata, namespace } });
    }
  });
  afterAll(async () => {
    await operator?.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('shows a server built without the lock as EgressLocked False, with a Warning Event, once', async () => {
    await start('Disabled');
    const locked = await eventually(egressLocked, (c) => c?.status === 'False');
    expect(locked).toMatchObject({ reason: 'DisabledByOperator' });
    expect(locked?.message).toContain('bypass the egress proxy');
    const warned = await eventually(
      () => events('EgressLockDisabled'),
      (list) => list.length > 0,
    );
    expect(warned[0]).toMatchObject({
      type: 'Warning',
      involvedObject: { kind: 'McpServer', name: 'billing', namespace },
      source: { component: 'portcullis-operator' },
    });
    expect(warned[0]?.message).toBe(locked?.message);
    // The pods say the same, and have no egress-lock init container.
    const template = await podTemplate();
    expect(template.metadata?.annotations?.['portcullis.dev/egress-lock']).toBe('Disabled');
    expect(template.spec?.initContainers?.map((c) => c.name) ?? []).not.toContain('egress-lock');

    // A restart of the operator with the same setting says nothing new.
    await operator!.stop();
    await start('Disabled');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await events('EgressLockDisabled')).toHaveLength(1);
    await operator!.stop();
    operator = undefined;
  });

  it('turns EgressLocked True with a Normal Event when the operator locks the pods again', async () => {
    await start('Enabled');
    const locked = await eventually(egressLocked, (c) => c?.status === 'True');
    expect(locked).toMatchObject({ reason: 'LockEnabled' });
    const told = await eventually(
      () => events('EgressLockEnabled'),
      (list) => list.length > 0,
    );
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ type: 'Normal', message: locked?.message });
    const template = await eventually(podTemplate, (t) =>
      (t.spec?.initContainers ?? []).some((c) => c.name === 'egress-lock'),
    );
    expect(template.metadata?.annotations?.['portcullis.dev/egress-lock']).toBe('Enabled');
  });
});
