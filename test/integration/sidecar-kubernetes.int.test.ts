import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { kubeConfigFor, kubectl, statusOf } from '../harness/kube.ts';
import { createAll, fixtureObjects, serviceAccountKubeConfig } from '../harness/operator-e2e.ts';
import { eventually } from '../harness/eventually.ts';
import { startKubernetesSidecar } from '../harness/operator-e2e.ts';
import { probeToolCall, rawToolCall } from '../harness/sidecar-clients.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
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

  it('portcullis kill: each switch shows its own reason, callers see it short and without names, audit keeps who', async () => {
    // Issue #13: one reason annotation was shared by the server and tool switches (the wrong reason was
    // shown), and the reason, signed with who set it, went to every caller.
    const token = await gate.token(support);
    const cli = async (...args: string[]) => {
      let err = '';
      const io: CliIo = {
        out: () => undefined,
        err: (t) => void (err += t),
        env: { KUBECONFIG: inject('kubeconfig') },
        childEnv: {},
        untilShutdown: () => new Promise(() => {}),
      };
      expect(await runCli([...args, '-n', namespace], io), err).toBe(0);
    };
    const message = async (expected: RegExp) => {
      const answer = await eventually(
        () => rawToolCall(gate.url, token, 'whoami'),
        (r) => expected.test(r.body),
        3000,
      );
      return (JSON.parse(answer.body) as { error: { message: string } }).error.message;
    };
    const long = `SEC-1 whoami shows request headers ${'x'.repeat(200)} and the rest of the story`;
    await cli('kill', 'mcpserver/billing', '--tool', 'whoami', '--reason', long);
    const live = (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    })) as { metadata: { annotations: Record<string, string> } };
    const who = JSON.parse(live.metadata.annotations['portcullis.dev/killed-tools-reasons']!).whoami
      .by as string;
    expect(who).not.toBe('');

    const toolOnly = await message(/SEC-1/);
    expect(toolOnly.startsWith('kill switch on tool whoami: SEC-1 whoami shows request headers')).toBe(true);
    expect(toolOnly.length).toBeLessThanOrEqual('kill switch on tool whoami: '.length + 120);
    expect(toolOnly).not.toContain(who);
    expect(toolOnly).not.toContain('rest of the story');

    await cli('kill', 'mcpserver/billing', '--reason', 'INC-2 the whole server');
    const server = await message(/INC-2/);
    expect(server).toBe('kill switch on McpServer billing: INC-2 the whole server');

    // Released, the server's reason goes with its switch: the tool shows its own again.
    await cli('release', 'mcpserver/billing');
    expect(await message(/SEC-1/)).toBe(toolOnly);

    // The full record, who included, is in the audit trail: the switch event and the refused call.
    const switchEvent = gate.audit.events.findLast((e) => e.kind === 'kill_switch' && e.tool === 'whoami');
    expect(switchEvent?.reason).toBe(`${who}: ${long}`.slice(0, 1024));
    const refused = gate.audit.events.findLast((e) => e.tool === 'whoami' && e.code === 'killed');
    expect(refused?.reason).toContain(`${who}: SEC-1`);

    await cli('release', 'mcpserver/billing', '--tool', 'whoami');
    expect(
      await eventually(
        () => call(token),
        (v) => v === 'allowed',
        3000,
      ),
    ).toBe('allowed');
  });
});
