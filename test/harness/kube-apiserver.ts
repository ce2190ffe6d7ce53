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
}

export function apiserverUrl(port: number): string {
  return `https://127.0.0.1:${port}`;
}

/** Flags for a kube-apiserver that behaves like a production one where tests can observe it. */
export function kubeApiserverArgs(config: KubeApiserverConfig): string[] {
  const { pki } = config;
  return [
    `--etcd-servers=${config.etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${config.port}`,
    `--tls-cert-file=${pki.servingCertFile}`,
    `--tls-private-key-file=${pki.servingKeyFile}`,
    // Unused while the TLS files above are given; keeps the default /var/run/kubernetes untouched.
    `--cert-dir=${join(config.dataDir, 'apiserver-certs')}`,
    // Identities are static bearer tokens: an admin in system:masters and users RBAC must judge.
    `--token-auth-file=${config.tokenAuthFile}`,
    // RBAC is what the operator's ClusterRoles and the tests' 403s depend on. Node authorization
    // guards kubelets, and there are none.
    '--authorization-mode=RBAC',
    `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
    `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // No load balancer drains this server: stop at once on SIGTERM.
    '--shutdown-delay-duration=0s',
    '--profiling=false',
  ];
}
