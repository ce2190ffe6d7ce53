// What a stopped cluster left on the host: the differences between a snapshot taken before it started and
// one taken after it stopped (plus mounts still below its state directory). Empty when `cluster-down`
// took back everything it changed. The e2e global teardown asserts it on every run that started a cluster.
import type { HostSnapshot } from './host-changes.ts';

export function hostLeftovers(
  before: HostSnapshot,
  after: HostSnapshot,
  mountsLeft: readonly string[],
): string[] {
  const found: string[] = [];
  for (const [key, value] of Object.entries(before.sysctls)) {
    if (after.sysctls[key] !== value) found.push(`sysctl ${key} is ${after.sysctls[key]}, was ${value}`);
  }
  for (const [table, chains] of Object.entries(after.chains)) {
    const added = chains.filter((chain) => !(before.chains[table] ?? []).includes(chain));
    if (added.length > 0) found.push(`iptables ${table}: ${added.join(', ')}`);
  }
  const added = (now: readonly string[] = [], then: readonly string[] = []): string[] =>
    now.filter((name) => !then.includes(name));
  if (added(after.ipsets, before.ipsets).length > 0)
    found.push(`ipsets: ${added(after.ipsets, before.ipsets).join(', ')}`);
  if (added(after.netns, before.netns).length > 0)
    found.push(`network namespaces: ${added(after.netns, before.netns).join(', ')}`);
  if (added(after.cgroups, before.cgroups).length > 0)
    found.push(`kubepods cgroups: ${added(after.cgroups, before.cgroups).join(', ')}`);
  if (after.hadAddress !== before.hadAddress) found.push('the host address on lo');
  if (mountsLeft.length > 0) found.push(`mounts: ${mountsLeft.join(', ')}`);
  return found;
}
