import { ApiError, type KubeClient } from '../../kube/client.ts';
import { hasKey, type ObjectReference, type ReferenceState } from '../status/references.ts';

/**
 * Looks up a ConfigMap an McpServer's pods mount, by name (the operator may already get ConfigMaps). Secrets
 * are never read: the operator holds no permission on them, so a Secret reference is 'unchecked'.
 */
export function referenceLookup(
  client: KubeClient,
): (namespace: string, reference: ObjectReference) => Promise<ReferenceState> {
  return async (namespace, reference) => {
    if (reference.kind !== 'ConfigMap') return 'unchecked';
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(reference.name)}`;
    try {
      const object = await client.request<{
        data?: Record<string, unknown>;
        binaryData?: Record<string, unknown>;
      }>('GET', path);
      return hasKey(object, reference.key) ? 'found' : 'missingKey';
    } catch (error) {
      return error instanceof ApiError && error.status === 404 ? 'missing' : 'unknown';
    }
  };
}
