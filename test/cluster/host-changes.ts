// What the cluster changes on the host besides its own directory, and how to take exactly that back.
// Setup records the host as it was (sysctls, iptables chains, network namespaces, cgroups) into the
// state file; teardown removes only what appeared since and restores the sysctls. Every step tolerates
// having been done already, so an interrupted `cluster-down` can simply run again.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE, CHAIN_PREFIX, HOST_ADDRESS } from './topology.ts';

const TABLES = ['filter', 'nat', 'mangle', 'raw'] as const;
const BUILTIN_CHAINS = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING']);
const FORWARD_GUARD = `${CHAIN_PREFIX}-FORWARD`;
const NETNS_DIR = '/var/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';
/** The cgroup the kubelet creates under each v1 controller (cgroupRoot "/", cgroupsPerQOS). */
const KUBEPODS = 'kubepods';

/** The host before the cluster: what teardown must leave as it found it. */
export interface HostSnapshot {
  readonly sysctls: Record<string, string>;
  readonly chains: Record<string, string[]>;
  readonly netns: string[];
  readonly cgroups: string[];
  readonly hadAddress: boolean;
  /** ipset sets (kube-router keeps NetworkPolicy pod and namespace sets there). */
  readonly ipsets?: string[];
}

/** Changed at setup, restored at teardown. */
const SYSCTLS: Record<string, string> = {
  // kube-proxy DNATs Service traffic between pods on the same bridge: the host routes it.
  'net/ipv4/ip_forward': '1',
  // Bridged pod-to-pod packets pass iptables, so Service replies are un-NATed and policies see them.
  'net/bridge/bridge-nf-call-iptables': '1',
  'net/bridge/bridge-nf-call-ip6tables': '1',
};

function run(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(command: string, args: readonly string[]): boolean {
  try {
    run(command, args);
    return true;
  } catch {
    return false;
  }
}

function userChains(table: string): string[] {
  return run('iptables', ['-t', table, '-S'])
    .split('\n')
    .filter((line) => line.startsWith('-N '))
    .map((line) => line.slice(3).trim());
}

function cgroupControllers(): string[] {
  return readdirSync(CGROUP_ROOT).filter((name) => {
    try {
      return (
        statSync(join(CGROUP_ROOT, name)).isDirectory() && !statSync(join(CGROUP_ROOT, name)).isSymbolicLink()
      );
    } catch {
      return false;
    }
  });
}

export function snapshotHost(): HostSnapshot {
  const sysctls: Record<string, string> = {};
  for (const key of Object.keys(SYSCTLS)) sysctls[key] = readFileSync(`/proc/sys/${key}`, 'utf8').trim();
  const chains: Record<string, string[]> = {};
  for (const table of TABLES) chains[table] = userChains(table);
  return {
    sysctls,
    chains,
    netns: existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : [],
    cgroups: cgroupControllers().filter((controller) => existsSync(join(CGROUP_ROOT, controller, KUBEPODS))),
    hadAddress: run('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes(` ${HOST_ADDRESS}/32 `),
    ipsets: ipsets(),
  };
}

function ipsets(): string[] {
  try {
    return run('ipset', ['list', '-n'])
      .split('\n')
      .filter((name) => name !== '');
  } catch {
    return [];
  }
}

/** The uplinks: interfaces holding a default route. Pod traffic must never be forwarded out of them. */
export function uplinks(): string[] {
  const routes =
    run('ip', ['-o', 'route', 'show', 'default']) + run('ip', ['-o', '-6', 'route', 'show', 'default']);
  return [...new Set([...routes.matchAll(/ dev (\S+)/g)].map((match) => match[1] as string))];
}

/**
 * Rules of the forward guard, for pod traffic only (the host's other forwarding is not ours to touch).
 * Forwarding is on for Service traffic between pods, which enters and leaves by the bridge; pod traffic
 * forwarded out of an uplink, or anywhere but the bridge, is refused, and nothing is forwarded into the
 * bridge from outside. It sits first in FORWARD, before kube-proxy's chains.
 */
export function forwardGuardRules(uplinkNames: readonly string[]): string[][] {
  return [
    ...uplinkNames.map((uplink) => ['-i', BRIDGE, '-o', uplink, '-j', 'REJECT']),
    ['-i', BRIDGE, '!', '-o', BRIDGE, '-j', 'REJECT'],
    ['!', '-i', BRIDGE, '-o', BRIDGE, '-j', 'DROP'],
  ];
}

export function applyHostChanges(): void {
  for (const [key, value] of Object.entries(SYSCTLS)) writeFileSync(`/proc/sys/${key}`, value);
  if (!run('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes(` ${HOST_ADDRESS}/32 `)) {
    run('ip', ['addr', 'add', `${HOST_ADDRESS}/32`, 'dev', 'lo']);
  }
  if (!tryRun('iptables', ['-t', 'filter', '-N', FORWARD_GUARD])) run('iptables', ['-F', FORWARD_GUARD]);
  for (const rule of forwardGuardRules(uplinks())) run('iptables', ['-A', FORWARD_GUARD, ...rule]);
  if (!tryRun('iptables', ['-C', 'FORWARD', '-j', FORWARD_GUARD])) {
    run('iptables', ['-I', 'FORWARD', '1', '-j', FORWARD_GUARD]);
  }
}

/** Undoes applyHostChanges and what the node's components added, leaving what `before` had. */
export function revertHostChanges(before: HostSnapshot): string[] {
  const done: string[] = [];
  for (const table of TABLES) {
    const added = userChains(table).filter((chain) => !(before.chains[table] ?? []).includes(chain));
    if (added.length === 0) continue;
    // First the jumps from built-in chains into the added ones, then the chains (which may jump to
    // each other: flush all before deleting any).
    for (const line of run('iptables', ['-t', table, '-S']).split('\n')) {
      const rule = line.split(' ');
      if (rule[0] !== '-A' || !BUILTIN_CHAINS.has(rule[1] ?? '')) continue;
      const target = rule[rule.indexOf('-j') + 1] ?? rule[rule.indexOf('-g') + 1];
      if (target !== undefined && added.includes(target))
        tryRun('sh', ['-c', `iptables -t ${table} -D ${line.slice(3)}`]);
    }
    for (const chain of added) tryRun('iptables', ['-t', table, '-F', chain]);
    for (const chain of added) tryRun('iptables', ['-t', table, '-X', chain]);
    done.push(`${table}: ${added.length} chains`);
  }
  // After the chains: a set still referenced by a rule cannot be destroyed.
  const addedSets = ipsets().filter((name) => !(before.ipsets ?? []).includes(name));
  for (const name of addedSets) tryRun('ipset', ['destroy', name]);
  if (addedSets.length > 0) done.push(`${addedSets.length} ipsets`);
  for (const netns of existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR) : []) {
    if (
      !before.netns.includes(netns) &&
      netns.startsWith('cni-') &&
      tryRun('ip', ['netns', 'delete', netns])
    ) {
      done.push(`netns ${netns}`);
    }
  }
  if (tryRun('ip', ['link', 'delete', BRIDGE])) done.push(`bridge ${BRIDGE}`);
  if (!before.hadAddress && tryRun('ip', ['addr', 'del', `${HOST_ADDRESS}/32`, 'dev', 'lo'])) {
    done.push(`address ${HOST_ADDRESS}`);
  }
  for (const controller of cgroupControllers()) {
    const dir = join(CGROUP_ROOT, controller, KUBEPODS);
    if (!before.cgroups.includes(controller) && existsSync(dir) && removeCgroupTree(dir))
      done.push(`cgroup ${controller}/${KUBEPODS}`);
  }
  for (const [key, value] of Object.entries(before.sysctls)) writeFileSync(`/proc/sys/${key}`, value);
  return done;
}

/** rmdir depth first: cgroup directories hold only virtual files and go once their children are gone. */
function removeCgroupTree(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  }
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** Mount points at or below `dir` (the kubelet's volumes, containerd's rootfs and shm), deepest first. */
export function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((target) => target.replace(/\\040/g, ' '))
    .filter((target) => target === dir || target.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function unmountBelow(dir: string): number {
  let count = 0;
  for (const target of mountsBelow(dir)) if (tryRun('umount', ['-l', target])) count += 1;
  return count;
}
