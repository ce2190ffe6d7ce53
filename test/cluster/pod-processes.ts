// Containers outlive both the kubelet and containerd (each has a shim of its own), so stopping the
// node means killing them by what they are: every process in the kubelet's pod cgroups, then the shims
// of this cluster's containerd (recognised by its socket on their command line).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isRunning, signalProcess } from '../harness/processes.ts';

const KUBEPODS_CGROUPS = [
  '/sys/fs/cgroup/pids/kubepods',
  '/sys/fs/cgroup/memory/kubepods',
  '/sys/fs/cgroup/cpu/kubepods',
];

function procsBelow(dir: string): number[] {
  const pids: number[] = [];
  const procs = join(dir, 'cgroup.procs');
  if (existsSync(procs)) {
    for (const line of readFileSync(procs, 'utf8').split('\n')) if (line !== '') pids.push(Number(line));
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) pids.push(...procsBelow(join(dir, entry.name)));
  }
  return pids;
}

/** The shims serving `containerdSocket`'s containers. */
export function shimsOf(containerdSocket: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      const argv = commandLine(pid) ?? [];
      return (argv[0] ?? '').includes('containerd-shim') && argv.includes(containerdSocket);
    });
}

/** SIGKILLs every container process and shim of this node; returns how many processes it signalled. */
export function stopPodProcesses(containerdSocket: string): number {
  const cgroup = KUBEPODS_CGROUPS.find(existsSync);
  const pods = cgroup === undefined ? [] : procsBelow(cgroup);
  const targets = [...new Set([...pods, ...shimsOf(containerdSocket)])].filter(isRunning);
  for (const pid of targets) signalProcess(pid, 'SIGKILL');
  return targets.length;
}
