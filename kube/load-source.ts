import type { KubeSource } from './credentials.ts';
import { loadKubeCredentials, type LoadOptions } from './lean-credentials.ts';

/**
 * The API server's address and credentials for a long-running component (the operator, the sidecar's
 * kubernetes policy source): lean credentials when the pod's ServiceAccount or a plain kubeconfig is all
 * there is, so @kubernetes/client-node is never loaded (~55 MiB less); else client-node's KubeConfig,
 * loaded in the same order (--kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster).
 */
export async function loadKubeSource(options: LoadOptions): Promise<KubeSource> {
  const lean = await loadKubeCredentials(options);
  if (lean !== undefined) return lean;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kube = new KubeConfig();
  if (options.kubeconfig) kube.loadFromFile(options.kubeconfig);
  else kube.loadFromDefault();
  if (options.context) kube.setCurrentContext(options.context);
  return kube;
}
