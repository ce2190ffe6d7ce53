import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlaneProcess } from './controlplane.ts';
import { reapControlPlane } from './leftovers.ts';
import { describeLog } from './log-tail.ts';
import { commandLine, isRunning, signalProcess, waitUntilGone } from './processes.ts';

// A control plane that outlives the command starting it (`make k8s-up`): a detached Node process,
// the "owner", starts it and stays alive holding the watchdogs' lifelines until told to stop.
//
// State directory layout:
//   owner.json  who owns the control plane and how to reach it, written once it is ready
//   owner.log   the owner's own output
//   cluster/    the control plane's data directory (kubeconfigs, keys, server logs)

const k8sUpScript = fileURLToPath(new URL('./k8s-up.ts', import.meta.url));
const START_TIMEOUT_MS = 180_000;
const OWNER_STOP_TIMEOUT_MS = 30_000;

export interface OwnerInfo {
  readonly pid: number;
  readonly serverUrl: string;
  readonly kubeconfigPath: string;
  readonly processes: readonly ControlPlaneProcess[];
}

/** What the owner tells the process that launched it, over the IPC channel. */
export type OwnerMessage = { type: 'ready'; owner: OwnerInfo } | { type: 'failed'; message: string };

export class BackgroundControlPlaneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackgroundControlPlaneError';
  }
}

export function clusterDir(stateDir: string): string {
  return join(stateDir, 'cluster');
}

/** The owner recorded in `stateDir`, if that process is still alive. */
export function runningOwner(stateDir: string): OwnerInfo | undefined {
  let owner: OwnerInfo;
  try {
    owner = JSON.parse(readFileSync(join(stateDir, 'owner.json'), 'utf8')) as OwnerInfo;
  } catch {
    return undefined;
  }
  // The PID may have been reused since; only our own `serve` process for this directory counts.
  const argv = commandLine(owner.pid) ?? [];
  const isOurOwner = argv.includes('serve') && argv.includes(stateDir);
  return isRunning(owner.pid) && isOurOwner ? owner : undefined;
}

/** What an owner keeps running: the control plane by default, or a whole cluster (test/cluster). */
export interface OwnedServers {
  readonly serverUrl: string;
  readonly kubeconfigPath: string;
  readonly processes: readonly ControlPlaneProcess[];
  readonly crashed: Promise<Error>;
  stop(): Promise<unknown>;
}

export interface OwnerOptions {
  /** Stop on its own once this process has exited, e.g. the test that started it. */
  readonly stopWith?: number;
  /** How long `start` waits for the owner to report ready (180 s unless given). */
  readonly startTimeoutMs?: number;
  /** The script whose `serve` command runs the owner (k8s-up.ts unless given). */
  readonly script?: string;
  /** What the owner starts in its state directory; a control plane with its controllers unless given. */
  readonly start?: (stateDir: string) => Promise<OwnedServers>;
  /** Cleans up after an owner that died without stopping what it ran; reaps control-plane processes unless given. */
  readonly reap?: (stateDir: string) => Promise<readonly string[]>;
}

function startOwnedControlPlane(stateDir: string): Promise<OwnedServers> {
  return startControlPlane({ dataDir: clusterDir(stateDir), controllerManager: true });
}

/** Starts an owner for `stateDir` unless one runs already; resolves once the control plane is ready. */
export async function startInBackground(
  stateDir: string,
  options: OwnerOptions = {},
): Promise<{ owner: OwnerInfo; alreadyRunning: boolean }> {
  const existing = runningOwner(stateDir);
  if (existing !== undefined) return { owner: existing, alreadyRunning: true };
  await stopInBackground(stateDir, options); // whatever an interrupted earlier run left behind

  mkdirSync(stateDir, { recursive: true });
  const logPath = join(stateDir, 'owner.log');
  const log = openSync(logPath, 'w');
  const stopWith = options.stopWith === undefined ? [] : ['--stop-with', String(options.stopWith)];
  const script = options.script ?? k8sUpScript;
  const child = spawn(process.execPath, [script, 'serve', '--state', stateDir, ...stopWith], {
    detached: true, // its own session: closing this terminal or Ctrl-C here does not reach it
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);

  try {
    const owner = await new Promise<OwnerInfo>((resolve, reject) => {
      const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
      const timer = setTimeout(() => {
        signalProcess(child.pid ?? 0, 'SIGTERM');
        reject(new BackgroundControlPlaneError(`not ready within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      child.on('message', (message: OwnerMessage) => {
        clearTimeout(timer);
        if (message.type === 'ready') resolve(message.owner);
        else reject(new BackgroundControlPlaneError(message.message));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const how = signal === null ? `with code ${code}` : `on ${signal}`;
        reject(
          new BackgroundControlPlaneError(
            `the owner process exited ${how}\n${describeLog('owner', logPath)}`,
          ),
        );
      });
    });
    return { owner, alreadyRunning: false };
  } finally {
    if (child.connected) child.disconnect();
    child.unref();
  }
}

/**
 * The owner's life: start the control plane, report, run until SIGTERM/SIGINT/SIGHUP (or until
 * `options.stopWith` exits), stop it. If this process dies any other way, the watchdogs stop the
 * servers (see watchdog.sh).
 */
export async function serve(stateDir: string, options: OwnerOptions = {}): Promise<void> {
  const report = (message: OwnerMessage): Promise<void> =>
    new Promise((resolve) => {
      if (process.send === undefined || !process.connected) resolve();
      else process.send(message, () => resolve());
    });
  let controlPlane: OwnedServers;
  try {
    controlPlane = await (options.start ?? startOwnedControlPlane)(stateDir);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(message);
    await report({ type: 'failed', message });
    process.exitCode = 1;
    return;
  }
  const stopRequested = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, resolve);
    const { stopWith } = options;
    if (stopWith === undefined) return;
    const timer = setInterval(() => {
      if (isRunning(stopWith)) return;
      clearInterval(timer);
      resolve(`process ${stopWith} exited`);
    }, 250);
    timer.unref(); // must not keep this process alive once the control plane has stopped
  });
  const owner: OwnerInfo = {
    pid: process.pid,
    serverUrl: controlPlane.serverUrl,
    kubeconfigPath: controlPlane.kubeconfigPath,
    processes: controlPlane.processes,
  };
  void controlPlane.crashed.then((error) => console.error(error.message)); // into owner.log
  writeFileSync(join(stateDir, 'owner.json'), JSON.stringify(owner, null, 2));
  console.log(`control plane ready at ${owner.serverUrl}`);
  await report({ type: 'ready', owner });
  if (process.connected) process.disconnect(); // the launcher may exit now; we stay

  console.log(`${await stopRequested}: stopping the control plane`);
  await controlPlane.stop();
  rmSync(join(stateDir, 'owner.json'), { force: true });
}

export interface StopOutcome {
  readonly wasRunning: boolean;
  /** The owner ignored SIGTERM for OWNER_STOP_TIMEOUT_MS and got SIGKILL. */
  readonly ownerKilled: boolean;
  /** Processes of an earlier, interrupted run that had to be killed. */
  readonly reaped: readonly string[];
}

/** Stops the owner (if any) and kills whatever its control plane left behind. */
export async function stopInBackground(stateDir: string, options: OwnerOptions = {}): Promise<StopOutcome> {
  const owner = runningOwner(stateDir);
  let ownerKilled = false;
  if (owner !== undefined) {
    signalProcess(owner.pid, 'SIGTERM');
    if (!(await waitUntilGone([owner.pid], OWNER_STOP_TIMEOUT_MS))) {
      signalProcess(owner.pid, 'SIGKILL');
      ownerKilled = true;
      await waitUntilGone([owner.pid], 5_000);
    }
  }
  const reaped = await (options.reap ?? ((dir: string) => reapControlPlane(clusterDir(dir))))(stateDir);
  rmSync(join(stateDir, 'owner.json'), { force: true });
  return { wasRunning: owner !== undefined, ownerKilled, reaped };
}
