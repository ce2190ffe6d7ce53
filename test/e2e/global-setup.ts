// The end-to-end project's ground (bring-up.ts): a real single-node cluster with the project's images.
// A cluster already started by `make cluster-up` is reused and left running; otherwise this run starts one
// and stops it afterwards (and it stops by itself if this process dies: --stop-with). A run that started
// the cluster also checks that stopping it took back every change to the host (host-leftovers.ts).
import type { TestProject } from 'vitest/node';
import { runningOwner, stopInBackground } from '../harness/background-control-plane.ts';
import { snapshotHost, mountsBelow } from '../cluster/host-changes.ts';
import { hostLeftovers } from '../cluster/host-leftovers.ts';
import { clusterOwnerOptions } from '../cluster/owner.ts';
import { bringUpCluster, clusterStateDir } from './bring-up.ts';
import type { ClusterContext } from './context.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster the e2e helpers talk to (setup-context.ts hands it to them). */
    cluster: ClusterContext;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stateDir = clusterStateDir();
  // The host as it is without a cluster: first clean up after an interrupted run, if any.
  const before =
    runningOwner(stateDir) === undefined
      ? (await stopInBackground(stateDir, clusterOwnerOptions({})), snapshotHost())
      : undefined;
  const { context, reused, serverUrl } = await bringUpCluster({ stopWith: process.pid });
  project.provide('cluster', context);
  console.error(`e2e: ${reused ? 'reusing' : 'started'} the cluster at ${serverUrl}`);
  return async () => {
    if (reused || before === undefined) return;
    await stopInBackground(context.stateDir, clusterOwnerOptions({}));
    const leftovers = hostLeftovers(before, snapshotHost(), mountsBelow(context.stateDir));
    if (leftovers.length > 0)
      throw new Error(`stopping the cluster left this on the host: ${leftovers.join('; ')}`);
  };
}
