// A local control plane for working by hand, behind `make k8s-up` and `make k8s-down`:
//
//   node test/harness/k8s-up.ts start --state DIR   start one in the background (or find the running
//                                                   one); print its kubeconfig path on stdout
//   node test/harness/k8s-up.ts stop --state DIR    stop it; also reaps what an interrupted run left
//   node test/harness/k8s-up.ts serve --state DIR   internal: the background process that owns it
//
// `start` and `serve` take --stop-with PID: the control plane stops by itself once process PID
// exits. Tests use it, so a killed test run does not leave a background control plane behind.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { contextName } from './kubeconfig.ts';
import { serve, startInBackground, stopInBackground } from './background-control-plane.ts';
import { UNPRIVILEGED_USER } from './static-tokens.ts';

const USAGE = 'usage: node test/harness/k8s-up.ts start|stop|serve --state DIR [--stop-with PID]';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { state: { type: 'string' }, 'stop-with': { type: 'string' } },
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
  // Absolute, because the owner's command line is how a later `stop` recognises it.
  const stateDir = resolve(values.state);

  switch (command) {
    case 'start': {
      const { owner, alreadyRunning } = await startInBackground(stateDir, { stopWith });
      console.log(owner.kubeconfigPath);
      console.error(
        `${alreadyRunning ? 'Already running' : 'Started'}: kube-apiserver ${owner.serverUrl} (owner pid ${owner.pid}).`,
      );
      console.error(`export KUBECONFIG=${owner.kubeconfigPath}`);
      console.error(`As the unprivileged user: kubectl --context ${contextName(UNPRIVILEGED_USER)} ...`);
      return 0;
    }
    case 'stop': {
      const { wasRunning, ownerKilled, reaped } = await stopInBackground(stateDir);
      if (ownerKilled)
        console.error(`The owner process ignored SIGTERM; killed it (see ${stateDir}/owner.log).`);
      if (reaped.length > 0) console.error(`Killed leftovers of an interrupted run: ${reaped.join(', ')}.`);
      console.error(wasRunning ? 'Stopped.' : 'Was not running.');
      return 0;
    }
    case 'serve':
      await serve(stateDir, { stopWith });
      return process.exitCode === undefined ? 0 : Number(process.exitCode);
    default:
      console.error(USAGE);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(`k8s-up: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
