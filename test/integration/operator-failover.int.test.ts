import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleSchema } from '../../policy/bundle.ts';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { kubeConfigFor, kubeconfigPathFor } from '../harness/kube.ts';
import { describeLog } from '../harness/log-tail.ts';
import { createAll, fixtureObjects, waitFor } from '../harness/operator-e2e.ts';
import { signalProcess } from '../harness/processes.ts';
import { parseSamples } from '../harness/prometheus-text.ts';
import { startSupervised, type SupervisedProcess } from '../harness/supervised-process.ts';

/**
 * Two replicas of `portcullis operator` (the real command, as two processes, leader election on with
 * short timings from its flags: 4 s lease, 3 s renew deadline, 1 s retry): exactly one reconciles;
 * SIGKILL it, and the other takes over and reconciles a change within lease duration + retry.
 */
const root = join(import.meta.dirname, '../..');
const namespace = `of-${randomBytes(3).toString('hex')}`;
const LEASE_MS = 4_000;
const RENEW_DEADLINE_MS = 3_000;
const RETRY_MS = 1_000;

interface Replica {
  readonly name: string;
  readonly process: SupervisedProcess;
  readonly metricsUrl: string;
}

describe('operator: two replicas with leader election', () => {
  let admin: KubeConfig;
  const replicas: Replica[] = [];

  const metrics = async (replica: Replica) => {
    const response = await fetch(replica.metricsUrl, { signal: AbortSignal.timeout(2000) });
    const samples = parseSamples(await response.text());
    const sum = (name: string) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
    return {
      leader: sum('portcullis_operator_leader'),
      reconciles: sum('portcullis_operator_reconciles_total'),
    };
  };
  const bundle = async () => {
    const map = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name: 'billing-mcp-policy' });
    return bundleSchema.parse(JSON.parse(map.data!['bundle.json']!));
  };
  const logs = () => replicas.map((r) => describeLog(r.name, r.process.logPath)).join('\n');

  beforeAll(async () => {
    admin = kubeConfigFor('admin');
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    await createAll(admin, await fixtureObjects('billing', ['server.yaml', 'policies.yaml'], namespace));
    const ports = await freeLoopbackPorts(['a', 'b']);
    for (const name of ['a', 'b'] as const) {
      const process = await startSupervised({
        name: `operator-${name}`,
        command: globalThis.process.execPath,
        args: [
          join(root, 'cli/main.ts'),
          'operator',
          '--kubeconfig',
          kubeconfigPathFor('admin'),
          '--namespace',
          namespace,
          '--lease-namespace',
          namespace,
          '--lease-duration',
          `${LEASE_MS / 1000}s`,
          '--lease-renew-deadline',
          `${RENEW_DEADLINE_MS}ms`,
          '--lease-retry-period',
          `${RETRY_MS}ms`,
          '--metrics-listen',
          `127.0.0.1:${ports[name]}`,
          '--workers',
          '2',
        ],
        logPath: join(inject('scratchDir'), `${namespace}-operator-${name}.log`),
        stopGraceSeconds: 3,
      });
      replicas.push({ name, process, metricsUrl: `http://127.0.0.1:${ports[name]}/metrics` });
    }
  }, 30_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.process.stop()));
    await admin
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('lets exactly one replica reconcile', async () => {
    await waitFor('the first bundle', bundle, (b) => b.hash.length > 0, 20_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs()}`);
    });
    const both = await waitFor(
      'one leader, reporting reconciles',
      () => Promise.all(replicas.map(metrics)),
      (m) => m.filter((r) => r.leader === 1).length === 1 && m.some((r) => r.reconciles > 0),
      10_000,
      100,
    );
    // Another change, and a moment for a second reconciler (if any) to act on it too.
    await admin.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
      {
        group: 'portcullis.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'mcpservers',
        name: 'billing',
        body: { metadata: { labels: { touched: 'once' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await new Promise((r) => setTimeout(r, 1000));
    const after = await Promise.all(replicas.map(metrics));
    const leader = both.findIndex((r) => r.leader === 1);
    expect(
      after.map((r) => r.leader),
      logs(),
    ).toEqual(both.map((r) => r.leader));
    expect(after[leader]!.reconciles).toBeGreaterThan(both[leader]!.reconciles);
    expect(after[1 - leader]!.reconciles).toBe(0);
  });

  it('hands over to the standby within lease duration + retry after the leader is SIGKILLed', async () => {
    const states = await Promise.all(replicas.map(metrics));
    const leader = replicas[states.findIndex((r) => r.leader === 1)]!;
    const standby = replicas.find((r) => r !== leader)!;
    signalProcess(leader.process.pid, 'SIGKILL');
    const killed = Date.now();
    await leader.process.exited;
    // The standby's leader gauge, polled from now on: the takeover itself.
    const tookOver = waitFor(
      'the standby to take the Lease',
      () => metrics(standby),
      (m) => m.leader === 1,
      LEASE_MS + RETRY_MS + 2000,
      50,
    ).then(() => Date.now() - killed);
    await admin.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
      {
        group: 'portcullis.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'mcpservers',
        name: 'billing',
        body: { metadata: { annotations: { 'portcullis.dev/kill-switch': 'true' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const slack = 3000; // start-up of the reconcilers (lists) and one reconcile
    const recompiled = await waitFor(
      'the standby to recompile the bundle',
      bundle,
      (b) => b.kill.server.length > 0,
      LEASE_MS + RETRY_MS + slack + 2000,
      100,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${logs()}`);
    });
    const took = Date.now() - killed;
    const takeover = await tookOver;
    expect(recompiled.kill.server).toEqual([{ source: 'McpServer', name: 'billing' }]);
    // The Lease was last renewed before the kill; the standby tries every retry period after it expires.
    // 200 ms: the gauge's polling interval and the scrape.
    expect(takeover).toBeLessThan(LEASE_MS + RETRY_MS + 200);
    expect(took).toBeLessThan(LEASE_MS + RETRY_MS + slack);
    const now = await metrics(standby);
    expect(now.leader).toBe(1);
    expect(now.reconciles).toBeGreaterThan(0);
    console.info(
      `failover: the standby took the Lease ${takeover} ms and reconciled the change ${took} ms after the leader was killed`,
    );
  }, 20_000);
});
