import type { KubeClient } from '../../kube/client.ts';
import type { OperatorSettings } from '../settings.ts';

/**
 * Where the API server really listens: the endpoints of the `kubernetes` Service in `default`. Server
 * pods' NetworkPolicy must name these, not the Service's ClusterIP: implementations judge a connection
 * after kube-proxy has rewritten 10.0.0.1:443 to the endpoint (for example 10.200.0.1:6443), so a rule for
 * the ClusterIP alone lets nothing through and every sidecar loses its policy watch.
 */
export interface ApiServerEndpoints {
  readonly cidrs: readonly string[];
  readonly port: number;
}

interface EndpointSliceList {
  items?: {
    addressType?: string;
    endpoints?: { addresses?: string[] }[];
    ports?: { name?: string; port?: number }[];
  }[];
}

/** The /32 (or /128) of each endpoint address and the https port, from the Service's EndpointSlices. */
export function endpointsFromSlices(list: EndpointSliceList): ApiServerEndpoints | undefined {
  const cidrs = new Set<string>();
  let port: number | undefined;
  for (const slice of list.items ?? []) {
    if (slice.addressType === 'FQDN') continue; // names are no ipBlock
    const bits = slice.addressType === 'IPv6' ? 128 : 32;
    for (const endpoint of slice.endpoints ?? []) {
      for (const address of endpoint.addresses ?? []) cidrs.add(`${address}/${bits}`);
    }
    port ??= slice.ports?.find((p) => p.name === 'https')?.port ?? slice.ports?.[0]?.port;
  }
  return cidrs.size === 0 || port === undefined ? undefined : { cidrs: [...cidrs].sort(), port };
}

export async function discoverApiServerEndpoints(
  client: KubeClient,
): Promise<ApiServerEndpoints | undefined> {
  const list = await client.request<EndpointSliceList>(
    'GET',
    '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes',
  );
  return endpointsFromSlices(list);
}

/**
 * The settings the builders get: explicit apiServerCidrs win; left empty, the discovered endpoints fill
 * them (with their port), so the chart's defaults work on any cluster that enforces NetworkPolicy.
 */
export function withApiServerEndpoints(
  settings: OperatorSettings,
  discovered: ApiServerEndpoints | undefined,
): OperatorSettings {
  if (settings.apiServerCidrs.length > 0 || discovered === undefined) return settings;
  return { ...settings, apiServerCidrs: [...discovered.cidrs], apiServerPort: discovered.port };
}
