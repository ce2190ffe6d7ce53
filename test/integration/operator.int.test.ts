import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KILLED_AT,
  KILLED_BY,
  RELEASE_REASON,
  RELEASED_AT,
  RELEASED_BY,
} from '../../api/v1alpha1/annotations.ts';
import type { KillSwitchStatus } from '../../api/v1alpha1/kill-switch-status.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { bundleSchema } from '../../policy/bundle.ts';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { loadExample } from '../fixtures/examples.ts';
import { eventually } from '../harness/eventually.ts';
import { kubeConfigFor, kubeconfigPathFor, kubectl } from '../harness/kube.ts';

/** The operator against the real API server: children, status, kill switches and policy errors. */
const root = join(import.meta.dirname, '../..');
const namespace = `op-${randomBytes(3).toString('hex')}`;

/** `portcullis ARGS` in process, as the cluster-admin. */
async function portcullis(...args: string[]) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env: { KUBECONFIG: kubeconfigPathFor('admin') },
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
  const code = await runCli(args, io);
  return { code, stdout: out, stderr: err };
}

describe('operator', () => {
  let kube: KubeConfig;
  let operator: RunningOperator;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let objects: KubernetesObjectApi;

  const server = (name: string) =>
    custom.getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name,
    }) as Promise<{
      metadata: { uid: string; annotations?: Record<string, string> };
      status?: {
        policyHash?: string;
        conditions?: { type: string; status: string; message: string }[];
        killSwitch?: KillSwitchStatus;
      };
    }>;
  const condition = (s: Awaited<ReturnType<typeof server>>, type: string) =>
    s.status?.conditions?.find((c) => c.type === type);
  const bundleOf = async (name: string) => {
    const map: V1ConfigMap = await core.readNamespacedConfigMap({ namespace, name: `${name}-mcp-policy` });
    return bundleSchema.parse(JSON.parse(map.data!['bundle.json']!));
  };

  beforeAll(async () => {
    kube = kubeConfigFor('admin');
    core = kube.makeApiClient(CoreV1Api);
    custom = kube.makeApiClient(CustomObjectsApi);
    objects = KubernetesObjectApi.makeApiClient(kube);
    const crds = await kubectl(['apply', '--server-side', '-f', join(root, 'crds')]);
    expect(crds.code).toBe(0);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/mcpservers.portcullis.dev',
      'crd/toolpolicies.portcullis.dev',
    ]);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const billing = loadExample('billing.yaml');
    for (const object of [...billing.servers, ...billing.policies]) {
      await objects.create({ ...object, metadata: { ...object.metadata, namespace } });
    }
    operator = await startOperator({
      kube,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
    });
  });
  afterAll(async () => {
    await operator?.stop();
    await core?.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  it('builds every child, owned by the McpServer', async () => {
    const owner = await eventually(
      () => server('billing'),
      (s) => condition(s, 'PolicyReady')?.status === 'True',
    );
    const uid = owner.metadata.uid;
    const children = [
      ['v1', 'ServiceAccount', 'billing-mcp'],
      ['rbac.authorization.k8s.io/v1', 'Role', 'billing-mcp'],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'billing-mcp'],
      ['v1', 'ConfigMap', 'billing-mcp-policy'],
      ['v1', 'Service', 'billing-mcp'],
      ['networking.k8s.io/v1', 'NetworkPolicy', 'billing-mcp'],
      ['apps/v1', 'Deployment', 'billing-mcp'],
    ] as const;
    for (const [apiVersion, kind, name] of children) {
      const child = await objects.read({ apiVersion, kind, metadata: { name, namespace } });
      expect(child.metadata?.ownerReferences, `${kind}/${name}`).toEqual([
        expect.objectContaining({ kind: 'McpServer', name: 'billing', uid, controller: true }),
      ]);
      expect(child.metadata?.managedFields?.some((f) => f.manager === 'portcullis-operator')).toBe(true);
    }
  });

  it('puts back a child someone deleted', async () => {
    await eventually(
      () => core.readNamespacedService({ namespace, name: 'billing-mcp' }),
      (v) => (v as { metadata?: object }).metadata !== undefined,
    );
    await core.deleteNamespacedService({ namespace, name: 'billing-mcp' });
    const back = await eventually(
      () => core.readNamespacedService({ namespace, name: 'billing-mcp' }),
      (v) =>
        (v as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[
          'portcullis.dev/applied-digest'
        ] !== undefined,
    );
    expect(back.metadata?.ownerReferences?.[0]?.name).toBe('billing');
  });

  it('publishes the compiled bundle and its hash in status', async () => {
    const owner = await eventually(
      () => server('billing'),
      (s) => s.status?.policyHash !== undefined,
    );
    const bundle = await bundleOf('billing');
    expect(owner.status?.policyHash).toBe(bundle.hash);
    expect(bundle.policies.map((p) => p.name)).toEqual([
      'refunds-need-finance-lead',
      'support-reads-own-tenant',
    ]);
    expect(condition(owner, 'Killed')?.status).toBe('False');
    // The default operator settings lock the pods' egress (operator-egress-lock.int.test.ts: Disabled).
    expect(condition(owner, 'EgressLocked')?.status).toBe('True');
  });

  it('reports each ToolPolicy as Accepted with the servers it applies to', async () => {
    const policy = await eventually(
      () =>
        custom.getNamespacedCustomObject({
          group: 'portcullis.dev',
          version: 'v1alpha1',
          namespace,
          plural: 'toolpolicies',
          name: 'refunds-need-finance-lead',
        }),
      (p) => (p as { status?: { serverCount?: number } }).status?.serverCount === 1,
    );
    expect(policy).toMatchObject({
      status: { servers: ['billing'], conditions: [{ type: 'Accepted', status: 'True' }] },
    });
  });

  it('recompiles on a kill-switch annotation of the server and of its namespace', async () => {
    await kubectl([
      'annotate',
      '-n',
      namespace,
      'mcpserver',
      'billing',
      'portcullis.dev/kill-switch=true',
      'portcullis.dev/kill-reason=SEC-1 test',
    ]);
    const killed = await eventually(
      () => bundleOf('billing'),
      (b) => b.kill.server.length > 0,
    );
    expect(killed.kill.server).toEqual([{ source: 'McpServer', name: 'billing', reason: 'SEC-1 test' }]);
    const status = await eventually(
      () => server('billing'),
      (s) => condition(s, 'Killed')?.status === 'True',
    );
    expect(condition(status, 'Killed')?.message).toContain('SEC-1 test');
    const events = await eventually(
      () => core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=billing' }),
      (list) =>
        (list as { items?: { reason?: string }[] }).items?.some((e) => e.reason === 'KillSwitchEngaged') ===
        true,
    );
    expect(events.items.find((e) => e.reason === 'KillSwitchEngaged')?.message).toContain('SEC-1 test');
    await kubectl([
      'annotate',
      '-n',
      namespace,
      'mcpserver',
      'billing',
      'portcullis.dev/kill-switch-',
      'portcullis.dev/kill-reason-',
    ]);
    await eventually(
      () => bundleOf('billing'),
      (b) => b.kill.server.length === 0,
    );

    await kubectl(['annotate', 'namespace', namespace, 'portcullis.dev/kill-switch=true']);
    const byNamespace = await eventually(
      () => bundleOf('billing'),
      (b) => b.kill.server.length > 0,
    );
    expect(byNamespace.kill.server).toEqual([{ source: 'Namespace', name: namespace }]);
    await kubectl(['annotate', 'namespace', namespace, 'portcullis.dev/kill-switch-']);
    await eventually(
      () => bundleOf('billing'),
      (b) => b.kill.server.length === 0,
    );
  });

  it('shows portcullis kill in status.killSwitch (what, since, why, who) and records portcullis release --reason', async () => {
    const policy = 'refunds-need-finance-lead';
    const started = Date.now();
    expect(
      await portcullis('kill', 'mcpserver/billing', '-n', namespace, '--reason', 'INC-4711 exfiltration'),
    ).toMatchObject({ code: 0, stderr: '' });
    expect(
      await portcullis('kill', `toolpolicy/${policy}`, '-n', namespace, '--reason', 'too broad'),
    ).toMatchObject({ code: 0 });
    const annotations = (await server('billing')).metadata.annotations ?? {};
    const who = annotations[KILLED_BY]!;
    expect(who).toBeTruthy(); // the authenticated name (SelfSubjectReview)
    const killedAt = new Date(annotations[KILLED_AT]!).toISOString();
    expect(Date.parse(killedAt)).toBeGreaterThanOrEqual(started - 1000);

    const engaged = await eventually(
      () => server('billing'),
      (s) => s.status?.killSwitch?.switches?.length === 2,
    );
    expect(engaged.status?.killSwitch).toMatchObject({
      engaged: true,
      server: true,
      policies: [policy],
      since: killedAt,
      reason: `${who}: INC-4711 exfiltration`,
      switches: [
        { type: 'Server', name: 'billing', since: killedAt, reason: 'INC-4711 exfiltration', by: who },
        { type: 'ToolPolicy', name: policy, reason: 'too broad', by: who },
      ],
    });
    // The printer column reads the structured field.
    const table = await kubectl(['get', '-n', namespace, 'mcpserver', 'billing']);
    expect(table.stdout).toMatch(/^NAME +READY +KILLED +TOOLS/);
    expect(table.stdout).toMatch(/\nbilling +\S+ +true /);
    const status = await portcullis('status', 'billing', '-n', namespace, '-o', 'wide');
    expect(status.stdout).toMatch(
      new RegExp(`\\n${namespace} +billing +\\S+ +server,policy\\(${policy}\\) `),
    );

    const released = await portcullis(
      'release',
      'mcpserver/billing',
      '-n',
      namespace,
      '--reason',
      'INC-4711 contained',
    );
    expect(released.stdout).toBe(
      `mcpserver ${namespace}/billing: kill switch released (reason: ${who}: INC-4711 contained)\n`,
    );
    // Recorded on the object, durably: who, when, why.
    const record = (await server('billing')).metadata.annotations ?? {};
    expect(record).toMatchObject({ [RELEASED_BY]: who, [RELEASE_REASON]: 'INC-4711 contained' });
    const releasedAt = new Date(record[RELEASED_AT]!).toISOString();
    // Status shows the release, and the switch still in force.
    const afterRelease = await eventually(
      () => server('billing'),
      (s) => s.status?.killSwitch?.lastRelease !== undefined,
    );
    expect(afterRelease.status?.killSwitch).toMatchObject({
      engaged: true,
      server: false,
      switches: [{ type: 'ToolPolicy', name: policy }],
      lastRelease: { type: 'Server', name: 'billing', at: releasedAt, by: who, reason: 'INC-4711 contained' },
    });
    // `kubectl describe` tells who released it and why.
    const events = await eventually(
      () => core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.name=billing' }),
      (list) =>
        list.items.some(
          (e) => e.reason === 'KillSwitchReleased' && e.message?.includes('INC-4711 contained'),
        ),
    );
    expect(events.items.find((e) => e.message?.includes('INC-4711 contained'))).toMatchObject({
      type: 'Normal',
      reason: 'KillSwitchReleased',
      message: `kill switch released on McpServer billing (every call) by ${who} at ${releasedAt}: INC-4711 contained; engaged since ${killedAt} (${who}: INC-4711 exfiltration)`,
    });
    expect(
      events.items.some(
        (e) =>
          e.reason === 'KillSwitchEngaged' &&
          e.message ===
            `kill switch engaged on ToolPolicy ${policy} (every tool it selects): ${who}: too broad`,
      ),
    ).toBe(true);

    await portcullis('release', `toolpolicy/${policy}`, '-n', namespace, '--reason', 'narrowed');
    const clear = await eventually(
      () => server('billing'),
      (s) => s.status?.killSwitch?.engaged === false,
    );
    expect(clear.status?.killSwitch).toMatchObject({
      engaged: false,
      server: false,
      lastRelease: { type: 'ToolPolicy', name: policy, by: who, reason: 'narrowed' },
    });
    expect(clear.status?.killSwitch?.switches).toBeUndefined();
    expect((await kubectl(['get', '-n', namespace, 'mcpserver', 'billing'])).stdout).toMatch(
      /\nbilling +\S+ +false /,
    );
  });

  it('keeps the last good bundle when a ToolPolicy stops compiling, and says why', async () => {
    const before = (await bundleOf('billing')).hash;
    const patch = [{ op: 'replace', path: '/spec/rules/0/when', value: 'args.amount_cents <' }];
    const result = await kubectl([
      'patch',
      '-n',
      namespace,
      'toolpolicy',
      'refunds-need-finance-lead',
      '--type=json',
      `-p=${JSON.stringify(patch)}`,
    ]);
    expect(result.code).toBe(0);
    const broken = await eventually(
      () => server('billing'),
      (s) => condition(s, 'PolicyReady')?.status === 'False',
    );
    expect(condition(broken, 'PolicyReady')?.message).toContain('CEL syntax error');
    expect((await bundleOf('billing')).hash).toBe(before);
    const policy = await eventually(
      () =>
        custom.getNamespacedCustomObject({
          group: 'portcullis.dev',
          version: 'v1alpha1',
          namespace,
          plural: 'toolpolicies',
          name: 'refunds-need-finance-lead',
        }),
      (p) =>
        (p as { status?: { conditions?: { status: string }[] } }).status?.conditions?.[0]?.status === 'False',
    );
    expect(JSON.stringify(policy)).toContain('CEL syntax error');
  });
});
