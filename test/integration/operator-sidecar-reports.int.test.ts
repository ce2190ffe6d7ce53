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

  beforeAll(async () => {
    admin = adminKubeConfig();
    namespace = await createNamespace(admin, 'reports');
    const billing = loadExample('billing.yaml');
    await createAll(
      admin,
      [...billing.servers, ...billing.policies].map((o) => ({
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
    const beat = (id: string, hash: string, digest: string, state: string) =>
      postHeartbeat(collector.url, sidecar, {
        sidecar: id,
        server,
        lost: [],
        policyHash: hash,
        tools: [
          { name: 'read_invoice', digest: DIGEST_A, state: 'Pinned' },
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

  afterAll(async () => {
    await operator?.stop();
    await collector?.stop();
    await admin
      ?.makeApiClient(RbacAuthorizationV1Api)
      .deleteClusterRoleBinding({ name: `${namespace}-audit-reader` })
      .catch(() => undefined);
  });

  it('writes servedPolicyHashes, observedTools and ToolDrift from the heartbeats', async () => {
    const read = async () =>
      (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'portcullis.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'mcpservers',
        name: 'billing',
      })) as McpServer;
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
  });
});
