import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Namespace,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../kube/client.ts';
import { Informer, type EventType } from '../../kube/informer.ts';
import { kubeConfigFor } from '../harness/kube.ts';
import { waitFor } from '../harness/operator-e2e.ts';

/** kube/informer.ts against the real API server: paged lists, metadata-only caches, one object by name. */
const namespace = `inf-${randomBytes(3).toString('hex')}`;
const CONFIG_MAPS = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const NAMESPACES = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };

describe('informer', () => {
  let admin: KubeConfig;
  let client: KubeClient;
  const informers: Informer<never>[] = [];
  const start = <T extends V1ConfigMap | V1Namespace>(informer: Informer<T>) => {
    informers.push(informer as unknown as Informer<never>);
    informer.start();
    return informer;
  };

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    client = new KubeClient(admin);
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    for (let i = 0; i < 7; i++)
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: `cm-${i}`, labels: { set: 'a' } }, data: { payload: 'x'.repeat(1000) } },
      });
  });
  afterAll(async () => {
    for (const informer of informers) informer.stop();
    await client?.close();
    await admin
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('lists in pages and keeps watching after the list', async () => {
    const events: EventType[] = [];
    const maps = new Informer<V1ConfigMap>(client, CONFIG_MAPS, {
      namespace,
      labelSelector: 'set=a',
      pageSize: 3,
    });
    maps.onEvent((type) => events.push(type));
    await start(maps).synced();
    expect(
      maps
        .list()
        .map((m) => m.metadata?.name)
        .sort(),
    ).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `cm-${i}`));
    expect(events.filter((e) => e === 'added')).toHaveLength(7);
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cm-7', labels: { set: 'a' } } } });
    await waitFor(
      'the watch to add cm-7',
      async () => maps.get(`${namespace}/cm-7`),
      (m) => m !== undefined,
    );
    expect(maps.healthy).toBe(true);
  });

  it('caches metadata only when asked: no data, typed, no managedFields', async () => {
    const maps = start(new Informer<V1ConfigMap>(client, CONFIG_MAPS, { namespace, metadataOnly: true }));
    await maps.synced();
    const cached = maps.get(`${namespace}/cm-0`)!;
    expect(cached.apiVersion).toBe('v1');
    expect(cached.kind).toBe('ConfigMap');
    expect(cached.metadata?.labels).toEqual({ set: 'a' });
    expect(cached.data).toBeUndefined();
    expect(cached.metadata?.managedFields).toBeUndefined();
    await admin
      .makeApiClient(CoreV1Api)
      .patchNamespacedConfigMap(
        { namespace, name: 'cm-1', body: { metadata: { annotations: { seen: 'yes' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const watched = await waitFor(
      'the metadata-only watch to see the annotation',
      async () => maps.get(`${namespace}/cm-1`),
      (m) => m?.metadata?.annotations?.['seen'] === 'yes',
    );
    expect(watched?.kind).toBe('ConfigMap');
    expect(watched?.data).toBeUndefined();
  });

  it('watches one cluster-scoped object by name', async () => {
    const types: EventType[] = [];
    const ns = new Informer<V1Namespace>(client, NAMESPACES, { name: namespace, metadataOnly: true });
    ns.onEvent((type) => types.push(type));
    await start(ns).synced();
    expect(ns.list().map((n) => n.metadata?.name)).toEqual([namespace]);
    await admin
      .makeApiClient(CoreV1Api)
      .patchNamespace(
        { name: namespace, body: { metadata: { annotations: { 'portcullis.dev/kill-switch': 'true' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await waitFor(
      'the annotation through the watch',
      async () => ns.get(namespace),
      (n) => n?.metadata?.annotations?.['portcullis.dev/kill-switch'] === 'true',
    );
    expect(types).toEqual(['added', 'modified']);
  });

  it('waits for an object by name that does not exist yet', async () => {
    const name = `${namespace}-later`;
    const ns = start(new Informer<V1Namespace>(client, NAMESPACES, { name }));
    await ns.synced();
    expect(ns.list()).toEqual([]);
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
    try {
      await waitFor(
        'the new namespace',
        async () => ns.get(name),
        (n) => n !== undefined,
      );
    } finally {
      await admin
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name })
        .catch(() => undefined);
    }
  });
});
