// The cluster as the background owner runs it (`make cluster-up`, the e2e project): how it starts, and
// how what an owner left behind is cleaned up.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OwnerOptions } from '../harness/background-control-plane.ts';
import { reapControlPlane } from '../harness/leftovers.ts';
import { commandLine, signalProcess } from '../harness/processes.ts';
import { nodePaths, startCluster, teardownHost } from './cluster.ts';
import { stopPodProcesses } from './pod-processes.ts';

const cliScript = fileURLToPath(new URL('./cluster-up.ts', import.meta.url));

function imagesDir(): string {
  return execFileSync(fileURLToPath(new URL('./build.sh', import.meta.url)), { encoding: 'utf8' }).trim();
}

export interface ClusterOwnerOptions {
  readonly stopWith?: number;
}

/** How the background owner (test/harness/background-control-plane.ts) runs and reaps a cluster. */
export function clusterOwnerOptions({ stopWith }: ClusterOwnerOptions): OwnerOptions {
  return {
    stopWith,
    script: cliScript,
    startTimeoutMs: 600_000,
    start: (stateDir) => startCluster({ stateDir, imagesDir: imagesDir() }),
    // After an owner that died (or is still starting): its processes by PID, the containers, then the host.
    reap: async (stateDir) => {
      const owners = ownersStillStarting(stateDir);
      for (const pid of owners) signalProcess(pid, 'SIGKILL');
      const reaped = await reapControlPlane(join(stateDir, 'node'), { remove: false });
      const killed = stopPodProcesses(nodePaths(stateDir).containerdSocket);
      reaped.push(...(await reapControlPlane(join(stateDir, 'control-plane'))));
      return [
        ...owners.map((pid) => `owner ${pid}`),
        ...reaped,
        ...(killed > 0 ? [`${killed} container processes`] : []),
        ...teardownHost(stateDir),
      ];
    },
  };
}

/** `serve` processes for `stateDir` (an owner not yet ready has written no owner.json). */
function ownersStillStarting(stateDir: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const argv = commandLine(pid) ?? [];
      return (
        pid !== process.pid && argv.includes('serve') && argv.includes(stateDir) && argv.includes(cliScript)
      );
    });
}
