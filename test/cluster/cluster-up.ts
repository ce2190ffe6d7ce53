// A real single-node cluster for working by hand and for the end-to-end tests, behind `make cluster-up`
// and `make cluster-down`:
//
//   node test/cluster/cluster-up.ts start --state DIR   start it in the background (or find the running
//                                                       one); print its kubeconfig path on stdout
//   node test/cluster/cluster-up.ts stop --state DIR    stop it and undo every host change it made
//   node test/cluster/cluster-up.ts serve --state DIR   internal: the background process that owns it
//
// `start` and `serve` take --stop-with PID (stop once process PID exits); `start` takes --image FILE
// (repeatable: import this image archive, e.g. the project's from `make image`, into the node).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serve, startInBackground, stopInBackground } from '../harness/background-control-plane.ts';
import { nodePaths } from './cluster.ts';
import { archiveTag, importImages } from './node-images.ts';
import { clusterOwnerOptions } from './owner.ts';

const USAGE =
  'usage: node test/cluster/cluster-up.ts start|stop|serve --state DIR [--stop-with PID] [--image FILE]...';

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
  if (
    values.state === undefined ||
    extra.length > 0 ||
    (stopWith !== undefined && !Number.isInteger(stopWith))
  ) {
    console.error(USAGE);
    return 2;
  }
  const stateDir = resolve(values.state);
  const options = clusterOwnerOptions({ stopWith });
  const images = (values.image ?? []).map((file) => ({
    file: resolve(file),
    tag: archiveTag(resolve(file)),
  }));
  switch (command) {
    case 'start': {
      const { owner, alreadyRunning } = await startInBackground(stateDir, options);
      importImages(nodePaths(stateDir).containerdSocket, images);
      for (const image of images) console.error(`Imported ${image.tag}.`);
      console.log(owner.kubeconfigPath);
      console.error(
        `${alreadyRunning ? 'Already running' : 'Started'}: a node and ${owner.serverUrl} (owner pid ${owner.pid}).`,
      );
      console.error(`export KUBECONFIG=${owner.kubeconfigPath}`);
      return 0;
    }
    case 'stop': {
      const { wasRunning, ownerKilled, reaped } = await stopInBackground(stateDir, options);
      if (ownerKilled)
        console.error(`The owner process ignored SIGTERM; killed it (see ${stateDir}/owner.log).`);
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
