import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeClient } from '../../kube/client.ts';

/**
 * Lease-based leader election (coordination.k8s.io/v1), as kube-controller-manager does it: the holder
 * renews the Lease every retry period; a candidate takes it over once renewTime + leaseDuration has
 * passed. Updates carry the resourceVersion they read, so two candidates can never both win. A leader
 * that cannot renew within the renew deadline stops leading (its work must stop too); a leader that
 * shuts down releases the Lease so a standby takes over at once.
 */
export interface LeaderElectionOptions {
  readonly kube: KubeConfig | KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly clock?: () => number;
  readonly onError?: (error: unknown) => void;
}

export interface LeaderElector {
  readonly isLeader: boolean;
  /** Stops campaigning; a leader releases the Lease. */
  stop(): Promise<void>;
  /** Stops renewing without releasing: to the other candidates this looks exactly like a crash. */
  abandon(): void;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** MicroTime: RFC 3339 with exactly six fractional digits (the API server refuses a JavaScript Date's three). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function startLeaderElection(options: LeaderElectionOptions): LeaderElector {
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`;
  const client = KubeClient.for(options.kube);
  const read = () => client.request<Lease>('GET', `${collection}/${options.name}`);
  const replace = (lease: Lease) => client.send('PUT', `${collection}/${options.name}`, { body: lease });
  const clock = options.clock ?? Date.now;
  const duration = options.leaseDurationSeconds ?? 15;
  const renewDeadline = options.renewDeadlineMs ?? 10_000;
  const retry = options.retryPeriodMs ?? 2_000;
  // A leader must stop before its Lease can expire under it, and get more than one try before that.
  if (!(retry < renewDeadline && renewDeadline < duration * 1000))
    throw new RangeError(
      `leader election needs retry period (${retry} ms) < renew deadline (${renewDeadline} ms) < lease duration (${duration} s)`,
    );
  const { namespace, name, identity } = options;
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let timer: NodeJS.Timeout | undefined;

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime(clock());
    let lease: Lease;
    try {
      lease = await read();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      await client.send('POST', collection, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: duration,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = holder === '' || renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < clock();
    if (holder !== identity && !expired) return false;
    const takeover = holder !== identity;
    // The resourceVersion we read makes this a compare-and-swap: a concurrent winner makes it fail (409).
    await replace({
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: duration,
        renewTime: now,
        ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    });
    return true;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    let held = false;
    try {
      held = await tryAcquireOrRenew();
      if (held) lastRenew = clock();
    } catch (error) {
      // A conflict (someone else updated first) or the API server being away: decided below.
      options.onError?.(error);
    }
    if (held && !leader) {
      leader = true;
      options.onStartedLeading();
    } else if (!held && leader && clock() - lastRenew > renewDeadline) {
      leader = false;
      options.onStoppedLeading();
    }
    if (!stopped) {
      timer = setTimeout(() => void tick(), retry);
      timer.unref();
    }
  }
  void tick();

  return {
    get isLeader() {
      return leader;
    },
    abandon() {
      stopped = true;
      clearTimeout(timer);
      leader = false;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (!leader) return;
      leader = false;
      try {
        const lease = await read();
        if (lease.spec?.holderIdentity === identity) {
          await replace({ ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
        }
      } catch {
        // Best effort: the Lease expires on its own.
      }
    },
  };
}
