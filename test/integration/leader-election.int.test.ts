import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLeaderElection, type LeaderElector } from '../../operator/controller/leader-election.ts';
import { kubeConfigFor } from '../harness/kube.ts';

/** Two operator replicas: exactly one leads; the other takes over after the leader dies. */
const namespace = `le-${randomBytes(3).toString('hex')}`;

async function until(predicate: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!predicate() && Date.now() - started < timeoutMs) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - started;
}

describe('leader election', () => {
  let kube: KubeConfig;
  const electors: LeaderElector[] = [];
  const events: string[] = [];

  const candidate = (identity: string) => {
    const elector = startLeaderElection({
      kube,
      namespace,
      name: 'portcullis-operator',
      identity,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1500,
      retryPeriodMs: 200,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stopped`),
      onError: (error) => events.push(`${identity} error ${String(error).slice(0, 300)}`),
    });
    electors.push(elector);
    return elector;
  };

  beforeAll(async () => {
    kube = kubeConfigFor('admin');
    await kube.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    for (const elector of electors) await elector.stop();
    await kube
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  it('elects exactly one of two candidates', async () => {
    const a = candidate('replica-a');
    const b = candidate('replica-b');
    await until(() => a.isLeader || b.isLeader, 5000);
    await new Promise((r) => setTimeout(r, 800));
    expect([a.isLeader, b.isLeader].filter(Boolean), events.join('\n')).toHaveLength(1);
  });

  it('hands over within the lease duration plus a retry when the leader dies', async () => {
    const [a, b] = electors as [LeaderElector, LeaderElector];
    const leader = a.isLeader ? a : b;
    const standby = a.isLeader ? b : a;
    leader.abandon();
    const took = await until(() => standby.isLeader, 6000);
    expect(standby.isLeader).toBe(true);
    expect(took).toBeLessThan(2000 + 200 + 1000);
  });

  it('hands over at once when the leader shuts down cleanly', async () => {
    const c = candidate('replica-c');
    const current = electors.find((e) => e.isLeader)!;
    await current.stop();
    const took = await until(() => c.isLeader, 3000);
    expect(c.isLeader).toBe(true);
    expect(took).toBeLessThan(1000);
  });
});
