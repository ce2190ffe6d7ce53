import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isRunning, signalProcess, waitUntilGone } from './processes.ts';

// The watchdogs kill the servers when their owner dies. This file covers what they cannot: a
// watchdog killed by SIGKILL itself, and the data directory the dead owner never removed.

const STATE_FILE = 'processes.json';

/** What a data directory records about who owns it and which processes it runs. */
export interface ControlPlaneState {
  readonly ownerPid: number;
  readonly processes: readonly { name: string; pid: number; watchdogPid: number }[];
}

export function writeState(dataDir: string, state: ControlPlaneState): void {
  const path = join(dataDir, STATE_FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2));
  renameSync(`${path}.tmp`, path); // readers never see half a file
}

export function readState(dataDir: string): ControlPlaneState | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as ControlPlaneState;
  } catch {
    return undefined;
  }
}

/**
 * Kills whatever still runs from `dataDir` and removes the directory (unless `remove: false`). A recorded PID counts only
 * if that process's command line names `dataDir`, so a PID the kernel has since reused is spared.
 * Returns the names of the processes it had to kill.
 */
export async function reapControlPlane(
  dataDir: string,
  options: { remove?: boolean } = {},
): Promise<string[]> {
  const state = readState(dataDir);
  const leftovers = (state?.processes ?? [])
    .flatMap((p) => [
      { name: `${p.name} watchdog`, pid: p.watchdogPid },
      { name: p.name, pid: p.pid },
    ])
    .filter(({ pid }) => isRunning(pid) && (commandLine(pid) ?? []).some((arg) => arg.includes(dataDir)));
  for (const { pid } of leftovers) signalProcess(pid, 'SIGKILL');
  const pids = leftovers.map(({ pid }) => pid);
  if (!(await waitUntilGone(pids, 5_000))) {
    throw new Error(`processes ${pids.join(', ')} from ${dataDir} survived SIGKILL`);
  }
  if (options.remove !== false) rmSync(dataDir, { recursive: true, force: true });
  return leftovers.map(({ name }) => name);
}

/** Reaps every `<parent>/<prefix>*` data directory whose owning process is gone. */
export async function reapAbandonedControlPlanes(parent: string, prefix: string): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((name) => name.startsWith(prefix));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dataDir = join(parent, entry);
    const state = readState(dataDir);
    // No state yet means another run is between creating its directory and writing the file.
    if (state !== undefined && !isRunning(state.ownerPid)) await reapControlPlane(dataDir);
  }
}
