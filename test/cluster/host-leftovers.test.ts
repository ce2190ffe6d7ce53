import { describe, expect, it } from 'vitest';
import type { HostSnapshot } from './host-changes.ts';
import { hostLeftovers } from './host-leftovers.ts';

const before: HostSnapshot = {
  sysctls: { 'net/ipv4/ip_forward': '0' },
  chains: { filter: ['DOCKER'], nat: [] },
  netns: ['mine'],
  cgroups: [],
  hadAddress: false,
  ipsets: ['theirs'],
};

describe('hostLeftovers', () => {
  it('finds nothing when the host is as it was', () => {
    expect(hostLeftovers(before, structuredClone(before), [])).toEqual([]);
  });

  it('names every kind of leftover, and only what was added', () => {
    const after: HostSnapshot = {
      sysctls: { 'net/ipv4/ip_forward': '1' },
      chains: { filter: ['DOCKER', 'PORTCULLIS-NODE-FORWARD'], nat: ['KUBE-SERVICES'] },
      netns: ['mine', 'cni-1'],
      cgroups: ['memory'],
      hadAddress: true,
      ipsets: ['theirs', 'KUBE-SRC-X'],
    };
    expect(hostLeftovers(before, after, ['/state/node/kubelet/pods/x'])).toEqual([
      'sysctl net/ipv4/ip_forward is 1, was 0',
      'iptables filter: PORTCULLIS-NODE-FORWARD',
      'iptables nat: KUBE-SERVICES',
      'ipsets: KUBE-SRC-X',
      'network namespaces: cni-1',
      'kubepods cgroups: memory',
      'the host address on lo',
      'mounts: /state/node/kubelet/pods/x',
    ]);
  });

  it('does not count what the host removed meanwhile', () => {
    expect(hostLeftovers(before, { ...before, chains: { filter: [], nat: [] }, ipsets: [] }, [])).toEqual([]);
  });
});
