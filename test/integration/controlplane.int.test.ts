import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
  Watch,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubernetesVersion } from '../harness/binaries.ts';
import { kubeConfigFor, kubeconfigPathFor, kubectl, statusOf } from '../harness/kube.ts';

// The harness's promise: a real kube-apiserver (storage, watch, RBAC, version, controllers) that
// both client-node and kubectl can use.

const asAdmin = kubeConfigFor('admin');
const asUser = kubeConfigFor('user');
const core = asAdmin.makeApiClient(CoreV1Api);
const userCore = asUser.makeApiClient(CoreV1Api);
const rbac = asAdmin.makeApiClient(RbacAuthorizationV1Api);

const suffix = randomBytes(3).toString('hex');
const namespace = `controlplane-${suffix}`;

function configMap(name: string, data: Record<string, string>): V1ConfigMap {
  return { metadata: { name, namespace }, data };
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

describe('the test control plane', () => {
  it('creates, reads, updates, lists and deletes namespaces and configmaps', async () => {
    const scratch = `crud-${suffix}`;
    const created = await core.createNamespace({ body: { metadata: { name: scratch } } });
    expect(created.metadata?.uid).toBeTruthy();
    expect((await core.readNamespace({ name: scratch })).status?.phase).toBe('Active');

    const body = { metadata: { name: 'settings', namespace: scratch }, data: { colour: 'red' } };
    const stored = await core.createNamespacedConfigMap({ namespace: scratch, body });
    const read = await core.readNamespacedConfigMap({ name: 'settings', namespace: scratch });
    expect(read.data).toEqual({ colour: 'red' });

    const updated = await core.replaceNamespacedConfigMap({
      name: 'settings',
      namespace: scratch,
      body: { ...read, data: { colour: 'blue' } },
    });
    expect(updated.data).toEqual({ colour: 'blue' });
    expect(updated.metadata?.resourceVersion).not.toBe(stored.metadata?.resourceVersion);
    const listed = await core.listNamespacedConfigMap({ namespace: scratch });
    expect(listed.items.map((item) => item.metadata?.name)).toContain('settings');

    await core.deleteNamespacedConfigMap({ name: 'settings', namespace: scratch });
    expect(await statusOf(core.readNamespacedConfigMap({ name: 'settings', namespace: scratch }))).toBe(404);

    // Only kube-controller-manager's namespace controller finalizes a deleted namespace.
    await core.deleteNamespace({ name: scratch });
    await expect
      .poll(() => statusOf(core.readNamespace({ name: scratch })), { timeout: 30_000, interval: 200 })
      .toBe(404);
  });

  it('delivers a watch event within 1 s of the update that caused it', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace,
      body: configMap('watched', { step: 'created' }),
    });
    let seen: (receivedAt: number) => void = () => {};
    const modified = new Promise<number>((resolve) => (seen = resolve));
    // Watching from the creation's resourceVersion replays anything that happens before the watch
    // is connected, so no event can slip past.
    const watch = await new Watch(asAdmin).watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { fieldSelector: 'metadata.name=watched', resourceVersion: created.metadata?.resourceVersion },
      (type, object: V1ConfigMap) => {
        if (type === 'MODIFIED' && object.data?.['step'] === 'updated') seen(performance.now());
      },
      () => {},
    );
    try {
      await core.replaceNamespacedConfigMap({
        name: 'watched',
        namespace,
        body: { ...created, data: { step: 'updated' } },
      });
      const updatedAt = performance.now();
      // The event may even beat the update's response; that counts as no delay.
      const delayMs = Math.max(0, (await modified) - updatedAt);
      expect(delayMs).toBeLessThan(1_000);
    } finally {
      watch.abort();
    }
  });

  it('forbids the unprivileged user what RBAC does not grant, until a RoleBinding grants it', async () => {
    expect(await statusOf(userCore.listNamespacedSecret({ namespace }))).toBe(403);
    expect(
      await statusOf(userCore.createNamespace({ body: { metadata: { name: `alice-${suffix}` } } })),
    ).toBe(403);

    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: inject('userName') }],
      },
    });

    // The authorizer reads RBAC objects from an informer cache, so the grant lands a moment later.
    await expect
      .poll(() => statusOf(userCore.listNamespacedSecret({ namespace })), { timeout: 5_000, interval: 50 })
      .toBe(200);
    // The grant is exactly the Role: not other namespaces, not other verbs.
    expect(await statusOf(userCore.listNamespacedSecret({ namespace: 'default' }))).toBe(403);
    const secret = { metadata: { name: 'nope' }, stringData: { k: 'v' } };
    expect(await statusOf(userCore.createNamespacedSecret({ namespace, body: secret }))).toBe(403);
    expect(
      await statusOf(userCore.createNamespace({ body: { metadata: { name: `alice-${suffix}` } } })),
    ).toBe(403);
  });

  it('reports the Kubernetes version it was built from', async () => {
    const version = await asAdmin.makeApiClient(VersionApi).getCode();
    const expected = kubernetesVersion();
    expect(version.gitVersion).toBe(expected);
    expect(`v${version.major}.${version.minor}`).toBe(expected.split('.').slice(0, 2).join('.'));
    expect(version.gitTreeState).toBe('clean');
    expect(Date.parse(version.buildDate)).toBeGreaterThan(Date.parse('2025-01-01'));
  });

  it('collects a dependent once its owner is deleted (ownerReference garbage collection)', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: configMap('owner', {}) });
    const ownerReference = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: owner.metadata?.uid ?? '',
    };
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'dependent', namespace, ownerReferences: [ownerReference] } },
    });
    expect(await statusOf(core.readNamespacedConfigMap({ name: 'dependent', namespace }))).toBe(200);

    await core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    await expect
      .poll(() => statusOf(core.readNamespacedConfigMap({ name: 'dependent', namespace })), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(404);
  });

  it('works with kubectl, for the admin and (within RBAC) for the unprivileged user', async () => {
    const version = await kubectl(['version', '-o', 'json']);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toBe(kubernetesVersion());

    const manifest = { apiVersion: 'v1', kind: 'ConfigMap', ...configMap('from-kubectl', { via: 'stdin' }) };
    const applied = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(applied.stdout, applied.stderr).toContain('configmap/from-kubectl created');
    const got = await kubectl([
      'get',
      'configmap',
      'from-kubectl',
      '-n',
      namespace,
      '-o',
      'jsonpath={.data.via}',
    ]);
    expect(got.stdout, got.stderr).toBe('stdin');

    const userKubeconfig = kubeconfigPathFor('user');
    const denied = await kubectl(['get', 'configmaps', '-n', namespace], { kubeconfig: userKubeconfig });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/forbidden/i);
    const canI = await kubectl(['auth', 'can-i', 'create', 'namespaces'], { kubeconfig: userKubeconfig });
    expect(canI.stdout.trim()).toBe('no');
  });
});
