// Which cluster the e2e helpers talk to. The e2e project's setup file sets it from what the global setup
// provided; `make demo-cluster` sets it itself. Helpers read it through cluster(), never from vitest.
export interface ClusterContext {
  /** cluster-admin kubeconfig. */
  readonly kubeconfig: string;
  readonly kubectl: string;
  /** The cluster's state directory (test/cluster): logs, the node's containerd socket. */
  readonly stateDir: string;
  /** The project's image tags as imported into the node. */
  readonly productImage: string;
  readonly examplesImage: string;
}

let current: ClusterContext | undefined;

export function useCluster(context: ClusterContext): void {
  current = context;
}

export function cluster(): ClusterContext {
  if (current === undefined) throw new Error('no cluster: call useCluster() first (the e2e setup file does)');
  return current;
}
