import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type Method } from './client.ts';

export { ApiError } from './client.ts';

/**
 * A minimal REST call with the kubeconfig's credentials, for what the typed clients make awkward
 * (server-side apply to the status subresource, raw CRDs). It goes through the KubeConfig's shared
 * connection pool (./client.ts). Errors carry the API server's status and message (ApiError).
 */
export async function kubeRequest(
  kube: KubeConfig,
  method: Method,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<unknown> {
  return KubeClient.for(kube).request(method, path, {
    ...(body !== undefined ? { body, contentType } : {}),
  });
}
