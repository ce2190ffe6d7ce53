// The pure parts of the test cluster (test/cluster): the node components' configuration files, the
// add-on manifests and the forward guard's rules. Nothing here starts a process or touches the host.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { addonManifests, corefile, KUBE_ROUTER_USER, kubeRouterRbac } from './addons.ts';
import { nodePaths } from './cluster.ts';
import { forwardGuardRules } from './host-changes.ts';
import {
  cniConfList,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  PAUSE_IMAGE,
  type NodePaths,
} from './node-configs.ts';
import {
  BRIDGE,
  CLUSTER_DOMAIN,
  DNS_SERVICE_IP,
  HOST_ADDRESS,
  KUBERNETES_SERVICE_IP,
  POD_CIDR,
  POD_GATEWAY,
  SERVICE_CIDR,
} from './topology.ts';

const paths: NodePaths = nodePaths('/srv/portcullis state/"cluster"');

/**
 * The subset of TOML containerdConfig writes: `[table]` headers and `key = value` lines whose values
 * (basic strings, arrays of them, booleans, integers) are also JSON. Anything else fails the test.
 */
function parseToml(text: string): Record<string, Record<string, unknown>> {
  const tables: Record<string, Record<string, unknown>> = { '': {} };
  let current = tables['']!;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      const name = header[1]!;
      if (tables[name] !== undefined) throw new Error(`table ${name} twice`);
      current = tables[name] = {};
      continue;
    }
    const pair = /^([A-Za-z0-9_]+) = (.+)$/.exec(line);
    if (!pair) throw new Error(`not understood: ${line}`);
    if (pair[1]! in current) throw new Error(`key ${pair[1]} twice`);
    current[pair[1]!] = JSON.parse(pair[2]!);
  }
  return tables;
}

const ipv4 = (address: string): number =>
  address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
function inCidr(address: string, cidr: string): boolean {
  const [network, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(network) / size);
}

describe('the topology', () => {
  it('keeps pods, Services and the host address apart, with the gateway and Service IPs in range', () => {
    expect(inCidr(POD_GATEWAY, POD_CIDR)).toBe(true);
    expect(inCidr(DNS_SERVICE_IP, SERVICE_CIDR)).toBe(true);
    expect(inCidr(KUBERNETES_SERVICE_IP, SERVICE_CIDR)).toBe(true);
    expect(inCidr(HOST_ADDRESS, POD_CIDR)).toBe(false);
    expect(inCidr(HOST_ADDRESS, SERVICE_CIDR)).toBe(false);
    expect(inCidr(POD_CIDR.split('/')[0]!, SERVICE_CIDR)).toBe(false);
    expect(inCidr(SERVICE_CIDR.split('/')[0]!, POD_CIDR)).toBe(false);
  });
});

describe('containerdConfig', () => {
  const toml = parseToml(containerdConfig(paths));
  const cri = 'plugins."io.containerd.grpc.v1.cri"';

  it('is version 2 with its own root, state, socket and runc root, never the system containerd’s', () => {
    expect(toml['']).toMatchObject({
      version: 2,
      root: paths.containerdRoot,
      state: paths.containerdState,
    });
    expect(toml['grpc']).toEqual({ address: paths.containerdSocket });
    expect(toml[`${cri}.containerd.runtimes.runc.options`]?.['Root']).toBe(paths.runcRoot);
    const own = [paths.containerdRoot, paths.containerdState, paths.containerdSocket, paths.runcRoot];
    expect(new Set(own).size).toBe(own.length);
    for (const path of own) {
      expect(path.startsWith('/srv/portcullis state/"cluster"/')).toBe(true);
      expect(path).not.toMatch(/^\/(var\/lib|run)\/containerd/);
    }
  });

  it('restricts oom_score_adj (root here may not lower it) and uses the pause image the node imports', () => {
    expect(toml[cri]?.['restrict_oom_score_adj']).toBe(true);
    expect(toml[cri]?.['sandbox_image']).toBe(PAUSE_IMAGE);
    const versions = readFileSync(new URL('./versions.env', import.meta.url), 'utf8');
    const pause = /^PAUSE_VERSION=(.+)$/m.exec(versions)?.[1];
    expect(PAUSE_IMAGE).toBe(`registry.k8s.io/pause:${pause}`);
  });

  it('points the CRI plugin at the CNI directories', () => {
    expect(toml[`${cri}.cni`]).toEqual({ bin_dir: paths.cniBinDir, conf_dir: paths.cniConfDir });
  });

  it('runs runc with cgroupfs, as the kubelet does', () => {
    expect(toml[`${cri}.containerd`]?.['default_runtime_name']).toBe('runc');
    expect(toml[`${cri}.containerd.runtimes.runc`]?.['runtime_type']).toBe('io.containerd.runc.v2');
    expect(toml[`${cri}.containerd.runtimes.runc.options`]?.['SystemdCgroup']).toBe(false);
    expect((parseYaml(kubeletConfig(paths)) as { cgroupDriver: string }).cgroupDriver).toBe('cgroupfs');
  });
});

describe('kubeletConfig', () => {
  const config = parseYaml(kubeletConfig(paths)) as Record<string, unknown>;

  it('is a KubeletConfiguration for cgroup v1 and cgroupfs that does not touch its own oom_score_adj', () => {
    expect(config).toMatchObject({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      oomScoreAdj: 0,
      containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    });
  });

  it('resolves through the cluster DNS Service, with a resolv.conf of its own (no upstream)', () => {
    expect(config['clusterDNS']).toEqual([DNS_SERVICE_IP]);
    expect(config['clusterDomain']).toBe(CLUSTER_DOMAIN);
    expect(config['resolvConf']).toBe(paths.resolvConf);
    expect(config['resolvConf']).not.toBe('/etc/resolv.conf');
  });

  it('authenticates and authorizes every request against the API server: no anonymous, no read-only port', () => {
    expect(config['authentication']).toEqual({
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: paths.clientCaFile },
    });
    expect(config['authorization']).toEqual({ mode: 'Webhook' });
    expect(config['readOnlyPort']).toBe(0);
    expect(config['address']).toBe(HOST_ADDRESS);
    expect(config).toMatchObject({
      tlsCertFile: paths.kubeletCertFile,
      tlsPrivateKeyFile: paths.kubeletKeyFile,
    });
  });
});

describe('kubeProxyConfig', () => {
  const config = parseYaml(kubeProxyConfig(paths)) as Record<string, unknown>;
  const port = (address: unknown): number => Number(String(address).split(':').at(-1));

  it('runs iptables mode for the pod range with its own kubeconfig, oomScoreAdj 0', () => {
    expect(config).toMatchObject({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      clusterCIDR: POD_CIDR,
      oomScoreAdj: 0,
      clientConnection: { kubeconfig: paths.kubeProxyKubeconfig },
    });
  });

  it('serves healthz and metrics on loopback ports that are not 0 (kube-proxy refuses port 0)', () => {
    for (const key of ['healthzBindAddress', 'metricsBindAddress']) {
      expect(String(config[key])).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(port(config[key])).toBeGreaterThan(0);
      expect(port(config[key])).toBeLessThan(65536);
    }
    expect(port(config['healthzBindAddress'])).not.toBe(port(config['metricsBindAddress']));
  });

  it('leaves the conntrack sysctls alone and answers NodePorts on the node address only', () => {
    expect(config['conntrack']).toMatchObject({ maxPerCore: 0, min: 0 });
    expect(config['nodePortAddresses']).toEqual([`${HOST_ADDRESS}/32`]);
  });
});

describe('cniConfList', () => {
  const list = JSON.parse(cniConfList(paths)) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };
  const bridge = list.plugins.find((p) => p['type'] === 'bridge') as {
    bridge: string;
    isGateway: boolean;
    ipMasq: boolean;
    ipam: { type: string; dataDir: string; ranges: { subnet: string; gateway: string }[][] };
  };

  it('puts pods on the bridge, gateway in the pod range, with addresses from the node’s own data dir', () => {
    expect(list.cniVersion).toBe('1.0.0');
    expect(bridge.bridge).toBe(BRIDGE);
    expect(bridge.isGateway).toBe(true);
    expect(bridge.ipam.type).toBe('host-local');
    expect(bridge.ipam.dataDir).toBe(paths.cniDataDir);
    expect(bridge.ipam.ranges).toEqual([[{ subnet: POD_CIDR, gateway: POD_GATEWAY }]]);
  });

  it('does not masquerade: nothing a pod sends is meant to leave the machine', () => {
    expect(bridge.ipMasq).toBe(false);
    expect(list.plugins.map((p) => p['type'])).toEqual(['bridge', 'portmap']);
  });
});

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the add-ons', () => {
  const images = {
    coredns: 'portcullis-test/coredns:1',
    localPathProvisioner: 'portcullis-test/local-path:1',
    busybox: 'portcullis-test/busybox:1',
  };
  const manifests = addonManifests(images, '/srv/volumes') as Manifest[];
  const ofKind = (kind: string) => manifests.filter((m) => m['kind'] === kind);

  it('resolves cluster names only: the Corefile has no forward (or proxy) plugin', () => {
    const text = corefile();
    const directives = text.split('\n').map((line) => line.trim().split(/\s+/)[0]);
    expect(directives).not.toContain('forward');
    expect(directives).not.toContain('proxy');
    expect(text).toContain(`kubernetes ${CLUSTER_DOMAIN} `);
    const configMap = ofKind('ConfigMap').find((m) => m['metadata'].name === 'coredns')!;
    expect(configMap['data'].Corefile).toBe(text);
  });

  it('serves DNS at the address the kubelet gives pods', () => {
    const service = ofKind('Service').find((m) => m['metadata'].name === 'kube-dns')!;
    expect(service['spec'].clusterIP).toBe(DNS_SERVICE_IP);
    expect((parseYaml(kubeletConfig(paths)) as { clusterDNS: string[] }).clusterDNS).toEqual([
      service['spec'].clusterIP,
    ]);
  });

  it('never pulls: every container of every pod spec, including the helper pod, uses Never', () => {
    const podSpecs: Manifest[] = [
      ...ofKind('Deployment').map((d) => d['spec'].template.spec as Manifest),
      ...ofKind('ConfigMap')
        .filter((m) => m['data']?.['helperPod.yaml'] !== undefined)
        .map((m) => (JSON.parse(m['data']['helperPod.yaml'] as string) as Manifest)['spec'] as Manifest),
    ];
    expect(podSpecs.length).toBeGreaterThanOrEqual(3);
    expect(manifests.filter((m) => ['DaemonSet', 'StatefulSet', 'Pod', 'Job'].includes(m['kind']))).toEqual(
      [],
    );
    const containers = podSpecs.flatMap((s) => [
      ...((s['initContainers'] ?? []) as Manifest[]),
      ...(s['containers'] as Manifest[]),
    ]);
    for (const container of containers) expect(container['imagePullPolicy'], container['name']).toBe('Never');
    expect(new Set(containers.map((c) => c['image']))).toEqual(new Set(Object.values(images)));
  });

  it('has exactly one StorageClass, the default, whose volumes live below the given directory', () => {
    const classes = ofKind('StorageClass');
    expect(classes).toHaveLength(1);
    expect(classes[0]!['metadata'].annotations['storageclass.kubernetes.io/is-default-class']).toBe('true');
    const config = ofKind('ConfigMap').find((m) => m['metadata'].name === 'local-path-config')!;
    expect(JSON.parse(config['data']['config.json'] as string)).toEqual({
      nodePathMap: [{ node: 'DEFAULT_PATH_FOR_NON_LISTED_NODES', paths: ['/srv/volumes'] }],
    });
  });

  it('gives kube-router read-only access, bound to its user alone', () => {
    const [role, binding] = kubeRouterRbac() as Manifest[];
    expect(role!['kind']).toBe('ClusterRole');
    const verbs = new Set((role!['rules'] as { verbs: string[] }[]).flatMap((r) => r.verbs));
    expect([...verbs].sort()).toEqual(['get', 'list', 'watch']);
    const resources = (role!['rules'] as { resources: string[] }[]).flatMap((r) => r.resources);
    expect(resources).toContain('networkpolicies');
    expect(resources).not.toContain('secrets');
    expect(binding!['roleRef']).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role!['metadata'].name,
    });
    expect(binding!['subjects']).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBE_ROUTER_USER },
    ]);
    expect(manifests).toEqual(expect.arrayContaining([role, binding]));
  });

  it('gives CoreDNS read-only access', () => {
    const role = ofKind('ClusterRole').find((m) => m['metadata'].name === 'coredns')!;
    const verbs = new Set((role['rules'] as { verbs: string[] }[]).flatMap((r) => r.verbs));
    expect([...verbs].sort()).toEqual(['list', 'watch']);
  });
});

/**
 * What iptables does with a forwarded packet in the guard chain: the first rule whose matches all hold
 * decides; none does, and the packet returns to FORWARD (kube-proxy's chains). Knows -i, -o, ! and -j
 * only, and fails on anything else.
 */
function verdict(rules: readonly string[][], packet: { in: string; out: string }): string {
  for (const rule of rules) {
    let matches = true;
    let target: string | undefined;
    for (let i = 0; i < rule.length; i++) {
      const negate = rule[i] === '!';
      if (negate) i++;
      const [flag, value] = [rule[i], rule[i + 1]];
      i++;
      if (flag === '-i' || flag === '-o') {
        if (value === undefined) throw new Error(`no interface: ${rule.join(' ')}`);
        const hit = (flag === '-i' ? packet.in : packet.out) === value;
        if (hit === negate) matches = false;
      } else if (flag === '-j' && !negate) target = value;
      else throw new Error(`not understood: ${rule.join(' ')}`);
    }
    if (target === undefined) throw new Error(`no target: ${rule.join(' ')}`);
    if (matches) return target;
  }
  return 'RETURN';
}

describe('forwardGuardRules', () => {
  const rules = forwardGuardRules(['eth0', 'wlp2s0']);
  const forward = (from: string, to: string) => verdict(rules, { in: from, out: to });

  it('lets pod-to-pod traffic on the bridge through to kube-proxy', () => {
    expect(forward(BRIDGE, BRIDGE)).toBe('RETURN');
  });

  it('refuses forwarding from the bridge to any other interface', () => {
    for (const out of ['eth0', 'wlp2s0', 'docker0', 'lo', 'tun0'])
      expect(forward(BRIDGE, out), out).toBe('REJECT');
  });

  it("refuses pod traffic forwarded out of an uplink, and leaves the host's other forwarding alone", () => {
    expect(forward(BRIDGE, 'eth0')).toBe('REJECT');
    expect(forward(BRIDGE, 'wlp2s0')).toBe('REJECT');
    for (const from of ['docker0', 'tun0']) {
      expect(forward(from, 'eth0'), from).toBe('RETURN');
      expect(forward(from, 'wlp2s0'), from).toBe('RETURN');
    }
  });

  it('drops what is forwarded into the bridge from elsewhere', () => {
    for (const from of ['eth0', 'wlp2s0', 'docker0', 'tun0'])
      expect(forward(from, BRIDGE), from).toBe('DROP');
  });

  it('leaves forwarding that touches neither the bridge nor an uplink alone', () => {
    expect(forward('docker0', 'tun0')).toBe('RETURN');
  });

  it('still guards the bridge on a host without a default route', () => {
    const bare = forwardGuardRules([]);
    expect(verdict(bare, { in: BRIDGE, out: 'eth0' })).toBe('REJECT');
    expect(verdict(bare, { in: 'eth0', out: BRIDGE })).toBe('DROP');
    expect(verdict(bare, { in: BRIDGE, out: BRIDGE })).toBe('RETURN');
  });
});
