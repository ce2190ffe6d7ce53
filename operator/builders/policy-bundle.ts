import type { V1ConfigMap } from '@kubernetes/client-node';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { canonicalJson } from '../../policy/hash.ts';
import { BUNDLE_KEY, bundleConfigMapName, type Bundle } from '../../policy/bundle.ts';
import { childMetadata } from './names.ts';

export const BUNDLE_HASH_ANNOTATION = 'portcullis.dev/policy-hash';
/** The collector's CA (operator setting collector.caBundle), mounted into the sidecar from this ConfigMap. */
export const COLLECTOR_CA_KEY = 'collector-ca.crt';
/** The identity provider's CA (operator setting identityProviderCa.caBundle), mounted like the collector's. */
export const IDP_CA_KEY = 'idp-ca.crt';

/**
 * The compiled bundle as a ConfigMap the sidecar watches through the API (never as a mounted volume:
 * kubelet sync would make a kill switch a minute late). The hash is repeated in an annotation so
 * `kubectl get` shows which policy is compiled without decoding the data.
 */
export function buildPolicyBundle(
  server: McpServer,
  bundle: Bundle,
  collectorCa?: string,
  identityProviderCa?: string,
): V1ConfigMap {
  const metadata = childMetadata(server, bundleConfigMapName(server.metadata.name));
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...metadata, annotations: { [BUNDLE_HASH_ANNOTATION]: bundle.hash } },
    data: {
      [BUNDLE_KEY]: canonicalJson(bundle),
      ...(collectorCa === undefined ? {} : { [COLLECTOR_CA_KEY]: collectorCa }),
      ...(identityProviderCa === undefined ? {} : { [IDP_CA_KEY]: identityProviderCa }),
    },
  };
}
