import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { kubeConfigFor, kubectl, statusOf } from '../harness/kube.ts';
import { createAll, fixtureObjects, serviceAccountKubeConfig } from '../harness/operator-e2e.ts';
import { eventually } from '../harness/eventually.ts';
import { startKubernetesSidecar } from '../harness/operator-e2e.ts';
import { probeToolCall } from '../harness/sidecar-clients.ts';
import { type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The sidecar with the kubernetes policy source, acting as the server's ServiceAccount exactly as in
 * its pod: it reads its bundle and its McpServer by watch and nothing else, and a kill-switch annotation
 * on its McpServer bites even with the operator stopped.
 */
const root = join(import.meta.dirname, '../..');
const namespace = `sk-${randomBytes(3).toString('hex')}`;
const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};

describe('sidecar with the kubernetes policy source', () => {
  let admin: KubeConfig;
  let asServer: KubeConfig;
  let operator: RunningOperator | undefined;
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;

  const call = (token: string) => probeToolCall(gate.url, token, 'whoami');

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    const core = admin.makeApiClient(CoreV1Api);
    const objects = KubernetesObjectApi.makeApiClient(admin);
    await kubectl(['apply', '--server-side', '-f', join(root, 'crds')]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/mcpservers.portcullis.dev',
      'crd/toolpolicies.portcullis.dev',
    ]);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await createAll(
      admin,
      await fixtureObjects('billing', ['server.yaml', 'policies.yaml', 'diagnostics.yaml'], namespace),
    );
    // A second server whose bundle the first one's sidecar must not be able to read.
    await objects.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'other-mcp-policy', namespace },
      data: { x: 'y' },
    });
    await objects.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'billing-db', namespace },
      stringData: { url: 'postgres://x' },
    });
    operator = await startOperator({
      kube: admin,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
    });
    await eventually(
      () => core.readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' }),
      (m) => (m as { data?: object }).data !== undefined,
    );

    // The credentials a pod of this server would get: a token of its ServiceAccount.
    asServer = await serviceAccountKubeConfig(admin, namespace, 'billing-mcp');

    ({ upstream, gate } = await startKubernetesSidecar(admin, namespace));
  }, 60_000);
  afterAll(async () => {
    await operator?.stop();
    await gate?.stop();
    await upstream?.close();
    await admin
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('may read its own bundle and McpServer, and nothing else', async () => {
    const core = asServer.makeApiClient(CoreV1Api);
    const custom = asServer.makeApiClient(CustomObjectsApi);
    expect(await statusOf(core.readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' }))).toBe(200);
    expect(
      await statusOf(
        custom.getNamespacedCustomObject({
          group: 'portcullis.dev',
          version: 'v1alpha1',
          namespace,
          plural: 'mcpservers',
          name: 'billing',
        }),
      ),
    ).toBe(200);
    expect(await statusOf(core.readNamespacedConfigMap({ namespace, name: 'other-mcp-policy' }))).toBe(403);
    expect(await statusOf(core.readNamespacedSecret({ namespace, name: 'billing-db' }))).toBe(403);
    expect(await statusOf(core.listNamespacedConfigMap({ namespace }))).toBe(403);
    expect(await statusOf(core.listNamespacedPod({ namespace }))).toBe(403);
  });

  it('serves the bundle the operator compiled', async () => {
    expect(await call(await gate.token(support))).toBe('allowed');
    expect(gate.sidecar.context.policy.current?.bundle.server).toMatchObject({ namespace, name: 'billing' });
  });

  it('obeys a kill switch on its McpServer in well under a second, with the operator stopped', async () => {
    await operator?.stop();
    operator = undefined;
    const token = await gate.token(support);
    const flipped = Date.now();
    const patched = await kubectl([
      'annotate',
      '-n',
      namespace,
      'mcpserver',
      'billing',
      'portcullis.dev/kill-switch=true',
      'portcullis.dev/kill-reason=operator down test',
    ]);
    expect(patched.code).toBe(0);
    expect(
      await eventually(
        () => call(token),
        (v) => v === 'killed',
        3000,
      ),
    ).toBe('killed');
    expect(Date.now() - flipped).toBeLessThan(1000);
    await kubectl(['annotate', '-n', namespace, 'mcpserver', 'billing', 'portcullis.dev/kill-switch-']);
    expect(
      await eventually(
        () => call(token),
        (v) => v === 'allowed',
        3000,
      ),
    ).toBe('allowed');
  });
});
