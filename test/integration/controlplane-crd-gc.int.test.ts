import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { expect, inject, it } from 'vitest';
import { startControlPlane } from '../harness/controlplane.ts';
import { loadKubeConfig, statusOf } from '../harness/kube.ts';

// kube-controller-manager's garbage collector rediscovers resource types every 30 s, so it is slow
// to collect dependents of a custom resource whose CRD came later. CRDs installed through
// `beforeControllers` are watched from the start; this is how operator tests get prompt collection.

const widgets: V1CustomResourceDefinition = {
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    names: { kind: 'Widget', plural: 'widgets', singular: 'widget' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object' } },
      },
    ],
  },
};

it('collects dependents of a custom resource at once when its CRD precedes the controllers', async () => {
  const controlPlane = await startControlPlane({
    dataDir: mkdtempSync(join(inject('scratchDir'), 'crd-gc-')),
    controllerManager: true,
    beforeControllers: async (kubeconfigPath) => {
      const extensions = loadKubeConfig(kubeconfigPath).makeApiClient(ApiextensionsV1Api);
      await extensions.createCustomResourceDefinition({ body: widgets });
      await expect
        .poll(async () => {
          const crd = await extensions.readCustomResourceDefinition({ name: 'widgets.example.com' });
          return crd.status?.conditions?.find((c) => c.type === 'Established')?.status;
        })
        .toBe('True');
    },
  });
  try {
    const config = loadKubeConfig(controlPlane.adminKubeconfigPath);
    const custom = config.makeApiClient(CustomObjectsApi);
    const core = config.makeApiClient(CoreV1Api);
    const widget = { group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets' };
    const owner = (await custom.createNamespacedCustomObject({
      ...widget,
      body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' } },
    })) as { metadata: { uid: string } };
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: {
        metadata: {
          name: 'part-of-w1',
          ownerReferences: [
            { apiVersion: 'example.com/v1', kind: 'Widget', name: 'w1', uid: owner.metadata.uid },
          ],
        },
      },
    });

    await custom.deleteNamespacedCustomObject({ ...widget, name: 'w1' });

    // Well inside the 30 s rediscovery period a late CRD would have to wait for.
    await expect
      .poll(() => statusOf(core.readNamespacedConfigMap({ name: 'part-of-w1', namespace: 'default' })), {
        timeout: 10_000,
        interval: 100,
      })
      .toBe(404);
  } finally {
    await controlPlane.stop();
  }
});
