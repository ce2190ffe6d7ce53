// The end-to-end project's ground (bring-up.ts): a real single-node cluster with the project's images.
// A cluster already started by `make cluster-up` is reused and left running; otherwise this run starts one
// and stops it afterwards (and it stops by itself if this process dies: --stop-with).
import type { TestProject } from 'vitest/node';
import { stopInBackground } from '../harness/background-control-plane.ts';
import { clusterOwnerOptions } from '../cluster/owner.ts';
import { bringUpCluster } from './bring-up.ts';
import type { ClusterContext } from './context.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster the e2e helpers talk to (setup-context.ts hands it to them). */
    cluster: ClusterContext;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { context, reused, serverUrl } = await bringUpCluster({ stopWith: process.pid });
  project.provide('cluster', context);
  console.error(`e2e: ${reused ? 'reusing' : 'started'} the cluster at ${serverUrl}`);
  return async () => {
    if (!reused) await stopInBackground(context.stateDir, clusterOwnerOptions({}));
  };
}
