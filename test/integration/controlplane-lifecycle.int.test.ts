import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runningOwner, type OwnerInfo, type OwnerMessage } from '../harness/background-control-plane.ts';
import { kubectlPath } from '../harness/binaries.ts';
import { isRunning, signalProcess } from '../harness/processes.ts';

// Each test here runs its own control plane in a separate Node process, because what is under
// test is what happens to the servers when that process goes away. --stop-with ties each of those
// to this worker, and the state directories live in scratchDir, so a killed test run leaves
// nothing behind either.

const k8sUp = fileURLToPath(new URL('../harness/k8s-up.ts', import.meta.url));
const run = promisify(execFile);
const stopWithThisWorker = ['--stop-with', String(process.pid)];

const stateDirs: string[] = [];
function newStateDir(): string {
  const dir = mkdtempSync(join(inject('scratchDir'), 'k8s-up-'));
  stateDirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const dir of stateDirs.splice(0)) {
    await run(process.execPath, [k8sUp, 'stop', '--state', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts `k8s-up.ts serve` as our child and resolves once its control plane is ready. */
async function serveInChild(stateDir: string): Promise<{ owner: OwnerInfo; pid: number }> {
  const child = spawn(process.execPath, [k8sUp, 'serve', '--state', stateDir, ...stopWithThisWorker], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const owner = await new Promise<OwnerInfo>((resolve, reject) => {
    child.on('message', (message: OwnerMessage) =>
      message.type === 'ready' ? resolve(message.owner) : reject(new Error(message.message)),
    );
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  if (child.pid === undefined) throw new Error('serve has no PID');
  return { owner, pid: child.pid };
}

function allPids(owner: OwnerInfo): number[] {
  return owner.processes.flatMap((p) => [p.pid, p.watchdogPid]);
}

describe('control plane lifecycle', () => {
  it('leaves no process behind when its owner is SIGKILLed', async () => {
    const stateDir = newStateDir();
    const { owner, pid } = await serveInChild(stateDir);
    const names = owner.processes.map((p) => p.name);
    expect(names).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager']);
    expect(allPids(owner).every(isRunning)).toBe(true);

    signalProcess(pid, 'SIGKILL');

    // The watchdogs see their lifeline close without a "stop" and SIGKILL the servers at once.
    await expect.poll(() => allPids(owner).filter(isRunning), { timeout: 3_000, interval: 50 }).toEqual([]);
    // So the clean-up that follows an interrupted run finds nothing left to kill.
    const stop = await run(process.execPath, [k8sUp, 'stop', '--state', stateDir]);
    expect(stop.stderr).toContain('Was not running.');
    expect(stop.stderr).not.toContain('Killed leftovers');
  });

  it('reaps servers whose watchdogs were SIGKILLed along with the owner', async () => {
    const stateDir = newStateDir();
    const { owner, pid } = await serveInChild(stateDir);
    for (const p of owner.processes) signalProcess(p.watchdogPid, 'SIGKILL');
    signalProcess(pid, 'SIGKILL');
    const servers = owner.processes.map((p) => p.pid);
    expect(servers.every(isRunning)).toBe(true); // orphaned: nothing will stop them now

    const stop = await run(process.execPath, [k8sUp, 'stop', '--state', stateDir]);

    expect(stop.stderr).toContain(
      'Killed leftovers of an interrupted run: etcd, kube-apiserver, kube-controller-manager',
    );
    expect(servers.filter(isRunning)).toEqual([]);
    expect(existsSync(join(stateDir, 'cluster'))).toBe(false);
  });

  it('k8s-up starts a background control plane once, and stops it without leftovers', async () => {
    const stateDir = newStateDir();
    const started = await run(process.execPath, [k8sUp, 'start', '--state', stateDir, ...stopWithThisWorker]);
    const kubeconfig = started.stdout.trim();
    expect(kubeconfig).toBe(join(stateDir, 'cluster', 'kubeconfig'));
    expect(started.stderr).toContain(`export KUBECONFIG=${kubeconfig}`);

    const kubectl = kubectlPath(inject('k8sBinDir'));
    const namespaces = await run(kubectl, [
      '--kubeconfig',
      kubeconfig,
      'get',
      'namespace',
      'default',
      '-o',
      'name',
    ]);
    expect(namespaces.stdout.trim()).toBe('namespace/default');

    const again = await run(process.execPath, [k8sUp, 'start', '--state', stateDir]);
    expect(again.stdout.trim()).toBe(kubeconfig);
    expect(again.stderr).toContain('Already running');

    const owner = runningOwner(stateDir);
    if (owner === undefined) throw new Error(`k8s-up start left no running owner in ${stateDir}`);
    const stopped = await run(process.execPath, [k8sUp, 'stop', '--state', stateDir]);
    expect(stopped.stderr.trim()).toBe('Stopped.'); // on SIGTERM, with nothing left to reap
    expect([owner.pid, ...allPids(owner)].filter(isRunning)).toEqual([]);
    expect(existsSync(join(stateDir, 'cluster'))).toBe(false);
  });

  it('k8s-up --stop-with stops the background control plane once that process exits', async () => {
    const stateDir = newStateDir();
    const standIn = spawn('sleep', ['60'], { stdio: 'ignore' });
    const started = await run(process.execPath, [
      k8sUp,
      'start',
      '--state',
      stateDir,
      '--stop-with',
      String(standIn.pid),
    ]);
    expect(started.stdout.trim()).toBe(join(stateDir, 'cluster', 'kubeconfig'));
    const owner = runningOwner(stateDir);
    if (owner === undefined) throw new Error(`k8s-up start left no running owner in ${stateDir}`);

    standIn.kill('SIGKILL');

    await expect
      .poll(() => [owner.pid, ...allPids(owner)].filter(isRunning), { timeout: 5_000, interval: 50 })
      .toEqual([]);
    expect(existsSync(join(stateDir, 'cluster'))).toBe(false);
  });
});
