// Configuration files of the node's components, rendered from the cluster's paths. Pure: the caller
// writes them (only when changed: kube-proxy exits when its config file is rewritten, even unchanged).
import { stringify } from 'yaml';
import {
  BRIDGE,
  CLUSTER_DOMAIN,
  DNS_SERVICE_IP,
  HOST_ADDRESS,
  KUBELET_PORT,
  NODE_NAME,
  POD_CIDR,
  POD_GATEWAY,
} from './topology.ts';

export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';

export interface NodePaths {
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly cniDataDir: string;
  readonly kubeletRoot: string;
  readonly kubeletKubeconfig: string;
  readonly kubeletCertFile: string;
  readonly kubeletKeyFile: string;
  readonly clientCaFile: string;
  readonly resolvConf: string;
  readonly kubeProxyKubeconfig: string;
  readonly podLogsDir: string;
}

/**
 * containerd 1.6 (Debian's). Its own root, state, socket and runc root, so it never meets a system
 * containerd. restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc may not lower a
 * container's oom_score_adj below its own; without it every sandbox fails to start.
 */
export function containerdConfig(paths: NodePaths): string {
  const q = (value: string): string => JSON.stringify(value);
  return [
    'version = 2',
    `root = ${q(paths.containerdRoot)}`,
    `state = ${q(paths.containerdState)}`,
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]',
    '[grpc]',
    `  address = ${q(paths.containerdSocket)}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${q(PAUSE_IMAGE)}`,
    '  restrict_oom_score_adj = true',
    '  enable_unprivileged_ports = false',
    '[plugins."io.containerd.grpc.v1.cri".cni]',
    `  bin_dir = ${q(paths.cniBinDir)}`,
    `  conf_dir = ${q(paths.cniConfDir)}`,
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  default_runtime_name = "runc"',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '  runtime_type = "io.containerd.runc.v2"',
    '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    `  Root = ${q(paths.runcRoot)}`,
    '  SystemdCgroup = false',
    '',
  ].join('\n');
}

/**
 * Debian's bridge plugin on one bridge with host-local addresses. No IP masquerade: nothing a pod sends
 * is meant to leave the machine. The bridge plugin enforces no NetworkPolicy; kube-router's firewall does.
 */
export function cniConfList(paths: NodePaths): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'portcullis',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: paths.cniDataDir,
            ranges: [[{ subnet: POD_CIDR, gateway: POD_GATEWAY }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

/**
 * The kubelet: cgroup v1 with the cgroupfs driver (the hosts have no systemd), oomScoreAdj 0 (it may not
 * lower its own), webhook authentication and authorization against the API server, a resolv.conf with
 * no upstream (DNS never leaves the machine), and eviction thresholds low enough that a busy disk does
 * not evict the tests' pods.
 */
export function kubeletConfig(paths: NodePaths): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: HOST_ADDRESS,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 0,
    tlsCertFile: paths.kubeletCertFile,
    tlsPrivateKeyFile: paths.kubeletKeyFile,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: paths.clientCaFile },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    oomScoreAdj: 0,
    clusterDNS: [DNS_SERVICE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    resolvConf: paths.resolvConf,
    serializeImagePulls: false,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    maxPods: 60,
    podPidsLimit: -1,
    protectKernelDefaults: false,
    makeIPTablesUtilChains: false,
    localStorageCapacityIsolation: false,
    nodeStatusReportFrequency: '10s',
    volumePluginDir: `${paths.kubeletRoot}/volume-plugins`,
    podLogsDir: paths.podLogsDir,
    registerNode: true,
  });
}

/**
 * kube-proxy in iptables mode (the kernel has no IPVS). conntrack sysctls are left alone (maxPerCore 0):
 * it may not write them here. The node's own address is where NodePorts answer.
 */
export function kubeProxyConfig(paths: NodePaths): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    hostnameOverride: NODE_NAME,
    bindAddress: HOST_ADDRESS,
    clusterCIDR: POD_CIDR,
    clientConnection: { kubeconfig: paths.kubeProxyKubeconfig },
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    oomScoreAdj: 0,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    nodePortAddresses: [`${HOST_ADDRESS}/32`],
    iptables: { masqueradeAll: false, syncPeriod: '10s', minSyncPeriod: '0s' },
  });
}
