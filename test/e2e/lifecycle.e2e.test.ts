// Changes reaching running pods: a ToolPolicy edit takes effect in the running sidecars without a restart
// (a watch client sees the tool refused, then allowed again, with the same pods), and an McpServer spec
// change rolls the pods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../cluster/wait.ts';
import { apply, kubectl, pods, waitForPodPhase } from './kube.ts';
import { followLogs, type LogFollower } from './log-follower.ts';
import {
  BILLING_NAMESPACE,
  CALLERS,
  ensurePlatform,
  startClient,
  waitForCondition,
  type Manifest,
} from './platform.ts';

function billingPods(): { uids: string[]; restarts: number } {
  const running = pods(BILLING_NAMESPACE, 'portcullis.dev/server=billing', { running: true });
  return {
    uids: running.map((pod) => pod.metadata.uid).sort(),
    restarts: running
      .flatMap((pod) => pod.status.containerStatuses ?? [])
      .reduce((sum, c) => sum + c.restartCount, 0),
  };
}

function watchersPolicy(tools: string[]): Manifest {
  return {
    apiVersion: 'portcullis.dev/v1alpha1',
    kind: 'ToolPolicy',
    metadata: { name: 'e2e-watchers', namespace: BILLING_NAMESPACE },
    spec: {
      targets: { servers: ['billing'] },
      rules: [{ name: 'watch-invoices', tools, subjects: { groups: ['e2e-watchers'] } }],
    },
  };
}

describe('changes on a running server', () => {
  let follower: LogFollower | undefined;

  beforeAll(async () => {
    await ensurePlatform();
  });
  afterAll(() => {
    follower?.stop();
    apply([watchersPolicy(['list_invoices', 'read_invoice'])]);
    kubectl([
      '-n',
      BILLING_NAMESPACE,
      'delete',
      'pod',
      'client-policy-watch',
      '--ignore-not-found',
      '--wait=false',
    ]);
  });

  it('a ToolPolicy edit reaches the running sidecars without a restart', async () => {
    const before = billingPods();
    startClient('client-policy-watch', {
      caller: CALLERS.watcher,
      mode: 'watch',
      tool: 'list_invoices',
      args: { customer_id: 'acme' },
    });
    await waitForPodPhase(BILLING_NAMESPACE, 'client-policy-watch', ['Running'], 60_000);
    follower = followLogs(BILLING_NAMESPACE, 'client-policy-watch');
    expect((await follower.next((line) => line.allowed !== undefined, 30_000)).allowed).toBe(true);

    apply([watchersPolicy(['read_invoice'])]);
    const refused = await follower.next((line) => line.allowed === false, 30_000);
    expect(refused.error?.data?.portcullis?.code).toBe('no_matching_rule');

    apply([watchersPolicy(['list_invoices', 'read_invoice'])]);
    await follower.next((line) => line.allowed === true, 30_000);
    expect(billingPods()).toEqual(before);
  });

  it('an McpServer spec change rolls the pods', async () => {
    const before = billingPods().uids;
    const marker = `e2e-${Date.now()}`;
    kubectl([
      '-n',
      BILLING_NAMESPACE,
      'patch',
      'mcpserver',
      'billing',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { workload: { env: [{ name: 'E2E_ROLL', value: marker }] } } }),
    ]);
    await waitFor('new pods with the change', 180_000, () => {
      const after = billingPods().uids;
      return after.length > 0 && after.every((uid) => !before.includes(uid));
    });
    await waitForCondition(BILLING_NAMESPACE, 'mcpserver/billing', 'Ready');
    const env = kubectl([
      '-n',
      BILLING_NAMESPACE,
      'get',
      'deployment',
      'billing-mcp',
      '-o',
      'jsonpath={.spec.template.spec.containers[?(@.name=="server")].env}',
    ]);
    expect(env).toContain(marker);
  });
});
