// A real single-node cluster for working by hand and for the end-to-end tests, behind `make cluster-up`
// and `make cluster-down`:
//
//   node test/cluster/cluster-up.ts start --state DIR   start it in the background (or find the running
//                                                       one); print its kubeconfig path on stdout
//   node test/cluster/cluster-up.ts stop --state DIR    stop it and undo every host change it made
//   node test/cluster/cluster-up.ts serve --state DIR   internal: the background process that owns it
//
// `start` and `serve` take --stop-with PID (stop once process PID exits) and --image FILE (repeatable:
// also import this image archive, e.g. the project's from `make image`).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  serve,
  startInBackground,
  stopInBackground,
  type OwnerOptions,
} from '../harness/background-control-plane.ts';
import { reapControlPlane } from '../harness/leftovers.ts';
import { commandLine, signalProcess } from '../harness/processes.ts';
import { startCluster, teardownHost, nodePaths } from './cluster.ts';
import { archiveTag } from './node-images.ts';
import { stopPodProcesses } from './pod-processes.ts';
import { join } from 'node:path';

const USAGE =
  'usage: node test/cluster/cluster-up.ts start|stop|serve --state DIR [--stop-with PID] [--image FILE]...';
const here = fileURLToPath(import.meta.url);

function imagesDir(): string {
  return execFileSync(fileURLToPath(new URL('./build.sh', import.meta.url)), { encoding: 'utf8' }).trim();
}

function ownerOptions(stopWith: number | undefined, images: readonly string[]): OwnerOptions {
  return {
    stopWith,
    script: here,
    startTimeoutMs: 600_000,
    start: (stateDir) =>
      startCluster({
        stateDir,
        imagesDir: imagesDir(),
        images: images.map((file) => ({ file, tag: archiveTag(file) })),
      }),
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
      return pid !== process.pid && argv.includes('serve') && argv.includes(stateDir) && argv.includes(here);
    });
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      state: { type: 'string' },
      'stop-with': { type: 'string' },
      image: { type: 'string', multiple: true },
    },
  });
  const [command, ...extra] = positionals;
  const stopWith = values['stop-with'] === undefined ? undefined : Number(values['stop-with']);
  if (values.state === undefined || extra.length > 0 || (stopWith !== undefined && !Number.isInteger(stopWith))) {
    console.error(USAGE);
    return 2;
  }
  const stateDir = resolve(values.state);
  const options = ownerOptions(stopWith, (values.image ?? []).map((file) => resolve(file)));
  switch (command) {
    case 'start': {
      const { owner, alreadyRunning } = await startInBackground(stateDir, options);
      console.log(owner.kubeconfigPath);
      console.error(`${alreadyRunning ? 'Already running' : 'Started'}: a node and ${owner.serverUrl} (owner pid ${owner.pid}).`);
      console.error(`export KUBECONFIG=${owner.kubeconfigPath}`);
      return 0;
    }
    case 'stop': {
      const { wasRunning, ownerKilled, reaped } = await stopInBackground(stateDir, options);
      if (ownerKilled) console.error(`The owner process ignored SIGTERM; killed it (see ${stateDir}/owner.log).`);
      if (reaped.length > 0) console.error(`Cleaned up: ${reaped.join(', ')}.`);
      console.error(wasRunning ? 'Stopped.' : 'Was not running.');
      return 0;
    }
    case 'serve':
      await serve(stateDir, options);
      return process.exitCode === undefined ? 0 : Number(process.exitCode);
    default:
      console.error(USAGE);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`cluster-up: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
