import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeCredentials } from './credentials.ts';
import { tokenFileHeaders } from './token-file.ts';

/**
 * Where the API server is and what to show it, for the cases a long-running in-cluster component meets:
 * the pod's ServiceAccount (token file re-read as the kubelet rotates it, the cluster CA), or a
 * kubeconfig whose user is a token, a token file or a client certificate. Loading
 * @kubernetes/client-node's KubeConfig costs a process about 55 MiB of memory (its generated API
 * models come with it), which is a fifth of the operator's budget; anything beyond these cases (exec
 * plugins, auth providers, basic auth, proxies, a $KUBECONFIG list) returns undefined here, and the
 * caller falls back to the KubeConfig (loadKubeSource in load-source.ts does both).
 *
 * A kubeconfig file is read by kubeconfig-file.ts, imported only then: in a pod (the ServiceAccount)
 * neither the operator nor the sidecar needs its YAML parser (~3.5 MiB of the sidecar at rest, issue #14).
 */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadOptions {
  /** --kubeconfig; else $KUBECONFIG, ~/.kube/config, then the pod's ServiceAccount (client-node's order). */
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the ServiceAccount's files are (tests). */
  readonly serviceAccountDir?: string;
  /** When a token file is due to be read again (tests). */
  readonly clock?: () => number;
}

/** Lean credentials, or undefined when the configuration needs the full KubeConfig. */
export async function loadKubeCredentials(options: LoadOptions): Promise<KubeCredentials | undefined> {
  const { env } = options;
  const clock = options.clock ?? Date.now;
  const list = env['KUBECONFIG'];
  if (options.kubeconfig === undefined && list !== undefined && list !== '') {
    // A list of files is merged by kubectl's rules: the KubeConfig does that.
    return list.includes(':') ? undefined : kubeconfigFile(list, options.context, clock);
  }
  const home = env['HOME'] ? join(env['HOME'], '.kube', 'config') : undefined;
  const path = options.kubeconfig ?? (home !== undefined && existsSync(home) ? home : undefined);
  if (path !== undefined) return kubeconfigFile(path, options.context, clock);
  return inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, clock);
}

function inCluster(
  env: Readonly<Record<string, string | undefined>>,
  dir: string,
  clock: () => number,
): KubeCredentials | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port || !existsSync(join(dir, 'token'))) return undefined;
  // Plain HTTP on these ports is a local proxy (client-node's rule): the KubeConfig handles that.
  if (['80', '8080', '8001'].includes(port)) return undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(dir, 'ca.crt')) },
    headers: tokenFileHeaders(join(dir, 'token'), clock),
  };
}

async function kubeconfigFile(
  path: string,
  context: string | undefined,
  clock: () => number,
): Promise<KubeCredentials | undefined> {
  const { fromKubeconfigFile } = await import('./kubeconfig-file.ts');
  return fromKubeconfigFile(path, context, clock);
}
