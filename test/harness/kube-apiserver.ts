import { join } from 'node:path';
import type { ControlPlanePki } from './pki.ts';

/** Service IPs are only allocated, never routed; any range that does not clash with the host works. */
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

export interface KubeApiserverConfig {
  readonly dataDir: string;
  readonly port: number;
  readonly etcdUrl: string;
  readonly pki: ControlPlanePki;
  readonly tokenAuthFile: string;
  /** Where it listens and what it advertises; 127.0.0.1 unless pods on a node must reach it. */
  readonly address?: string;
  /** Set when a kubelet joins (test/cluster): Node authorization, NodeRestriction, client certificates. */
  readonly node?: {
    readonly clientCaFile: string;
    readonly kubeletClientCertFile: string;
    readonly kubeletClientKeyFile: string;
  };
}

export function apiserverUrl(port: number, address = '127.0.0.1'): string {
  return `https://${address}:${port}`;
}

/** Flags for a kube-apiserver that behaves like a production one where tests can observe it. */
export function kubeApiserverArgs(config: KubeApiserverConfig): string[] {
  const { pki, node } = config;
  const address = config.address ?? '127.0.0.1';
  const nodeArgs =
    node === undefined
      ? ['--authorization-mode=RBAC']
      : [
          // A kubelet may read and write only its own Node and the pods bound to it.
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--client-ca-file=${node.clientCaFile}`,
          // logs, exec and port-forward: the API server calls the kubelet with this client certificate.
          `--kubelet-client-certificate=${node.kubeletClientCertFile}`,
          `--kubelet-client-key=${node.kubeletClientKeyFile}`,
          `--kubelet-certificate-authority=${pki.caCertFile}`,
          '--kubelet-preferred-address-types=InternalIP',
          // The NetworkPolicy add-on runs privileged on the host network, as it would in any cluster;
          // Pod Security admission still decides per namespace.
          '--allow-privileged=true',
        ];
  return [
    `--etcd-servers=${config.etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${config.port}`,
    `--tls-cert-file=${pki.servingCertFile}`,
    `--tls-private-key-file=${pki.servingKeyFile}`,
    // Unused while the TLS files above are given; keeps the default /var/run/kubernetes untouched.
    `--cert-dir=${join(config.dataDir, 'apiserver-certs')}`,
    // Identities are static bearer tokens: an admin in system:masters and users RBAC must judge.
    `--token-auth-file=${config.tokenAuthFile}`,
    // RBAC is what the operator's ClusterRoles and the tests' 403s depend on. Node authorization
    // guards kubelets, where there are any.
    ...nodeArgs,
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // No load balancer drains this server: stop at once on SIGTERM.
    '--shutdown-delay-duration=0s',
    '--profiling=false',
  ];
}
