import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { selectorLabels } from '../../operator/builders/names.ts';
import { loadExample } from '../fixtures/examples.ts';
import {
  adminKubeConfig,
  createNamespace,
  postHeartbeat,
  requestToken,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { createAll, waitFor } from '../harness/operator-e2e.ts';

/**
 * The status fields only the sidecars can know — which policy each serves, which tool definitions it
 * sees — reach the McpServer through the audit collector: sidecars report them in heartbeats, the
 * operator reads GET /v1/sidecars as itself (RBAC: get mcpservers/audit) and writes status.
 */
const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

describe('operator: served policy hashes and observed tools from the sidecars', () => {
  let admin: KubeConfig;
  let namespace: string;
  let collector: CollectorUnderTest;
  let operator: RunningOperator | undefined;
  let beat: (
    id: string,
    hash: string,
    digest: string,
    state: string,
    readState?: string,
  ) => Promise<{ status: number }>;
  const read = async () =>
    (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'portcullis.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mcpservers',
      name: 'billing',
    })) as McpServer;

  beforeAll(async () => {
    admin = adminKubeConfig();
    namespace = await createNamespace(admin, 'reports');
    const billing = loadExample('billing.yaml');
    const rollout = {
      ...billing.servers[0]!,
      metadata: { ...billing.servers[0]!.metadata, name: 'rollout' },
    };
    await createAll(
      admin,
      [...billing.servers, rollout, ...billing.policies].map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace },
      })),
    );
    collector = await startCollector();
    // The operator's identity for the collector: a ServiceAccount allowed to read audit cluster-wide.
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await admin
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'operator' } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name: `${namespace}-audit-reader` },
        rules: [{ apiGroups: ['portcullis.dev'], resources: ['mcpservers/audit'], verbs: ['get'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${namespace}-audit-reader` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: `${namespace}-audit-reader`,
        },
        subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace }],
      },
    });
    const tokenFile = join(mkdtempSync(join(inject('scratchDir'), 'reports-')), 'token');
    // An ordinary API token (the issuer's audience), as the operator's own projected token is.
    writeFileSync(
      tokenFile,
      await requestToken(admin, namespace, 'operator', {
        audiences: ['https://kubernetes.default.svc.cluster.local'],
      }),
    );

    const sidecar = await sidecarToken(admin, namespace, 'billing');
    const server = { namespace, name: 'billing' };
    beat = (id: string, hash: string, digest: string, state: string, readState = 'Pinned') =>
      postHeartbeat(collector.url, sidecar, {
        sidecar: id,
        server,
        lost: [],
        policyHash: hash,
        tools: [
          { name: 'read_invoice', digest: DIGEST_A, state: readState },
          { name: 'issue_refund', digest, state },
        ],
      });
    expect((await beat('pod-a', 'sha256:old', DIGEST_A, 'Pinned')).status).toBeLessThan(300);
    expect((await beat('pod-b', 'sha256:new', DIGEST_B, 'Quarantined')).status).toBeLessThan(300);

    operator = await startOperator({
      kube: admin,
      settings: operatorSettingsSchema.parse({
        collector: {
          url: collector.url,
          namespace: 'portcullis-system',
          podLabels: { app: 'collector' },
          port: 8080,
          tokenFile,
          reportIntervalSeconds: 1,
        },
      }),
      namespace,
      workers: 2,
      log: { info: () => undefined, error: (o, m) => console.error(m, o) },
    });
  });

  it('leaves out the report of a pod that a rollout replaced (portcullis status showed its hash)', async () => {
    // The server's one live pod (no kubelet here: the object alone is what the operator lists).
    const rollout = loadExample('billing.yaml').servers[0]!;
    const labels = selectorLabels({
      ...rollout,
      metadata: { ...rollout.metadata, name: 'rollout', namespace },
    });
    await admin.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'rollout-new-1', labels },
        spec: { containers: [{ name: 'server', image: 'example.invalid/server:1' }] },
      },
    });
    const token = await sidecarToken(admin, namespace, 'rollout');
    const report = (sidecar: string, pod: string, policyHash: string) =>
      postHeartbeat(collector.url, token, {
        sidecar,
        pod,
        server: { namespace, name: 'rollout' },
        lost: [],
        policyHash,
        tools: [{ name: 'read_invoice', digest: DIGEST_A, state: 'Pinned' }],
      });
    // The pod a rollout just replaced sent its last heartbeat seconds ago: still within reportStaleSeconds.
    expect((await report('sidecar-old', 'rollout-old-1', 'sha256:old')).status).toBeLessThan(300);
    expect((await report('sidecar-new', 'rollout-new-1', 'sha256:new')).status).toBeLessThan(300);
    const readRollout = async () =>
      (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'portcullis.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'mcpservers',
        name: 'rollout',
      })) as McpServer;
    const server = await waitFor(
      'the rollout server status from reports',
      readRollout,
      (s) => (s.status?.servedPolicyHashes?.length ?? 0) > 0,
    );
    expect(server.status?.servedPolicyHashes).toEqual([{ hash: 'sha256:new', sidecars: 1 }]);

    // portcullis status reads that status: the replaced pod's hash is not shown.
    const kubeconfig = inject('kubeconfig');
    let out = '';
    const io: CliIo = {
      out: (text) => void (out += text),
      err: () => undefined,
      env: { KUBECONFIG: kubeconfig },
      childEnv: {},
      untilShutdown: () => new Promise(() => {}),
    };
    expect(await runCli(['status', 'rollout', '-n', namespace], io)).toBe(0);
    expect(out).toMatch(/ new\(1\)| [0-9a-f]*\(1\)/);
    expect(out).not.toContain('old(');
  });

  afterAll(async () => {
    await operator?.stop();
    await collector?.stop();
    await admin
      ?.makeApiClient(RbacAuthorizationV1Api)
      .deleteClusterRoleBinding({ name: `${namespace}-audit-reader` })
      .catch(() => undefined);
  });

  it('writes servedPolicyHashes, observedTools and ToolDrift from the heartbeats', async () => {
    const server = await waitFor(
      'status from the sidecar reports',
      read,
      (s) => (s.status?.servedPolicyHashes?.length ?? 0) === 2,
    );
    expect(server.status?.servedPolicyHashes).toEqual([
      { hash: 'sha256:new', sidecars: 1 },
      { hash: 'sha256:old', sidecars: 1 },
    ]);
    // Replicas disagree about issue_refund: the status shows the state that needs attention.
    expect(server.status?.observedTools).toEqual([
      { name: 'issue_refund', digest: DIGEST_B, state: 'Quarantined' },
      { name: 'read_invoice', digest: DIGEST_A, state: 'Pinned' },
    ]);
    expect(server.status?.conditions?.find((c) => c.type === 'ToolDrift')).toMatchObject({
      status: 'True',
      reason: 'DefinitionsChanged',
    });
    // One of the two tools is quarantined somewhere: one served.
    expect(server.status?.servedTools).toBe(1);
    expect(server.status?.conditions?.find((c) => c.type === 'ToolsServed')).toMatchObject({
      status: 'True',
      reason: 'ToolsServed',
    });
  });

  it('says ToolsServed=False (AllToolsQuarantined), TOOLS 0 and Ready=False when every tool is quarantined', async () => {
    // Issue #13: pins that match nothing the server publishes, pods Ready, zero tools served.
    for (const pod of ['pod-a', 'pod-b'])
      expect((await beat(pod, 'sha256:new', DIGEST_B, 'Quarantined', 'Quarantined')).status).toBeLessThan(
        300,
      );
    const server = await waitFor(
      'ToolsServed=False',
      read,
      (s) => s.status?.conditions?.some((c) => c.type === 'ToolsServed' && c.status === 'False') === true,
    );
    expect(server.status?.servedTools).toBe(0);
    const toolsServed = server.status?.conditions?.find((c) => c.type === 'ToolsServed');
    expect(toolsServed).toMatchObject({ reason: 'AllToolsQuarantined' });
    expect(toolsServed?.message).toContain('0 of 2 published tool(s) served (2 quarantined, 0 killed)');
    expect(server.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });
});
