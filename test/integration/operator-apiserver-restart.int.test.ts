import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type RunningOperator } from '../../operator/manager.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { bundleSchema } from '../../policy/bundle.ts';
import { type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { installCrds } from '../harness/crds.ts';
import { loadKubeConfig, statusOf } from '../harness/kube.ts';
import { createAll, fixtureObjects, waitFor } from '../harness/operator-e2e.ts';
import { supportAgent } from '../harness/sidecar-clients.ts';
import { startKubernetesSidecar } from '../harness/operator-e2e.ts';
import { probeToolCall } from '../harness/sidecar-clients.ts';
import { type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * kube-apiserver restarts under a running operator and sidecar (a control plane of this test's own, so
 * the shared one stays up): the sidecar keeps serving its last good policy through the outage, and
 * afterwards both sides' informers are back: a kill switch set after the restart reaches the sidecar
 * directly and the operator's recompiled bundle and status.
 */
const namespace = 'restart';

describe('operator and sidecar across an API server restart', () => {
  let controlPlane: ControlPlane | undefined;
  let admin: KubeConfig;
  let operator: RunningOperator | undefined;
  let upstream: HttpFixture | undefined;
  let gate: SidecarUnderTest | undefined;
  const operatorErrors: string[] = [];

  const call = (token: string) => probeToolCall(gate!.url, token, 'list_invoices', { customer_id: 'acme' });
  const bundle = async () => {
    const map = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' });
    return bundleSchema.parse(JSON.parse(map.data!['bundle.json']!));
  };

  beforeAll(async () => {
    controlPlane = await startControlPlane({
      dataDir: mkdtempSync(join(inject('scratchDir'), 'restart-')),
      beforeControllers: (kubeconfigPath) => installCrds(kubeconfigPath, inject('k8sBinDir')),
    });
    admin = loadKubeConfig(controlPlane.adminKubeconfigPath);
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await createAll(
      admin,
      await fixtureObjects('billing', ['server.yaml', 'policies.yaml', 'diagnostics.yaml'], namespace),
    );
    operator = await startOperator({
      kube: admin,
      settings: operatorSettingsSchema.parse({}),
      namespace,
      workers: 2,
      log: { info: () => {}, error: (o) => operatorErrors.push(JSON.stringify(o).slice(0, 200)) },
    });
    await waitFor('the first bundle', bundle, (b) => b.hash.length > 0);
    ({ upstream, gate } = await startKubernetesSidecar(admin, namespace));
  }, 90_000);
  afterAll(async () => {
    await operator?.stop();
    await gate?.stop();
    await upstream?.close();
    await controlPlane?.stop();
  });

  it('serves the last good policy during the outage, and picks up changes after it', async () => {
    const cp = controlPlane!;
    const token = await gate!.token(supportAgent);
    expect(await call(token)).toBe('allowed');
    const servedBefore = gate!.sidecar.context.policy.current?.hash;

    await cp.stopApiserver();
    const core = admin.makeApiClient(CoreV1Api);
    expect(await statusOf(core.readNamespace({ name: namespace })).catch((e: Error) => e.message)).not.toBe(
      200,
    );
    // The outage, as the sidecar's and the operator's watches see it; calls keep being decided.
    const during: string[] = [];
    const outageStarted = Date.now();
    while (Date.now() - outageStarted < 1500) {
      during.push(await call(token));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new Set(during)).toEqual(new Set(['allowed']));
    expect(gate!.sidecar.context.policy.current?.hash).toBe(servedBefore);

    await cp.startApiserver();
    const custom = admin.makeApiClient(CustomObjectsApi);
    const changed = Date.now();
    await waitFor(
      'the kill-switch annotation to be written',
      () =>
        custom.patchNamespacedCustomObject(
          {
            group: 'portcullis.dev',
            version: 'v1alpha1',
            namespace,
            plural: 'mcpservers',
            name: 'billing',
            body: {
              metadata: {
                annotations: {
                  'portcullis.dev/kill-switch': 'true',
                  'portcullis.dev/kill-reason': 'after restart',
                },
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      () => true,
      10_000,
      100,
    );
    // The sidecar's own watch of its McpServer is back...
    expect(
      await waitFor(
        'the sidecar to refuse as killed',
        () => call(token),
        (v) => v === 'killed',
        20_000,
        50,
      ),
    ).toBe('killed');
    const sidecarTook = Date.now() - changed;
    // ...and so are the operator's: it recompiles the bundle and reports the switch.
    const killed = await waitFor(
      'the operator to recompile',
      bundle,
      (b) => b.kill.server.length > 0,
      20_000,
      50,
    );
    expect(killed.kill.server).toEqual([{ source: 'McpServer', name: 'billing', reason: 'after restart' }]);
    const operatorTook = Date.now() - changed;
    await waitFor(
      'status Killed=True',
      () =>
        custom.getNamespacedCustomObject({
          group: 'portcullis.dev',
          version: 'v1alpha1',
          namespace,
          plural: 'mcpservers',
          name: 'billing',
        }) as Promise<{ status?: { conditions?: { type: string; status: string }[] } }>,
      (s) => s.status?.conditions?.some((c) => c.type === 'Killed' && c.status === 'True') === true,
      10_000,
      50,
    );
    console.info(
      `after the restart: sidecar killed in ${sidecarTook} ms, operator bundle in ${operatorTook} ms; ${operatorErrors.length} operator errors logged`,
    );
  }, 60_000);
});
