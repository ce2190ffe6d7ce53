import type { ControlPlanePki } from './pki.ts';

/**
 * The controllers whose effects tests rely on: ownerReference garbage collection, namespace
 * deletion, and the default ServiceAccount (with its token) in every namespace. Nothing that needs
 * nodes, pods or a cloud runs.
 */
export const CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
];

export interface KubeControllerManagerConfig {
  readonly kubeconfigPath: string;
  readonly pki: ControlPlanePki;
  /** CONTROLLERS unless given; a cluster with a node runs the defaults ('*'). */
  readonly controllers?: readonly string[];
}

export function kubeControllerManagerArgs(config: KubeControllerManagerConfig): string[] {
  return [
    `--kubeconfig=${config.kubeconfigPath}`,
    `--controllers=${(config.controllers ?? CONTROLLERS).join(',')}`,
    // One instance per cluster: leader election would only delay the start by a lease round.
    '--leader-elect=false',
    // Nothing scrapes its metrics or health endpoints; not serving avoids a port and delegated auth.
    '--secure-port=0',
    `--service-account-private-key-file=${config.pki.serviceAccountKeyFile}`,
    `--root-ca-file=${config.pki.caCertFile}`,
  ];
}
