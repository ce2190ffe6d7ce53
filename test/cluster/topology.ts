// Where the single-node test cluster lives on the host. One place, so the API server's certificate, the
// kubelet, kube-proxy, the CNI bridge and the teardown agree. The ranges avoid the host's own networks
// and never leave the machine (host-network.ts refuses forwarding out of any other interface).
import { SERVICE_CLUSTER_IP_RANGE } from '../harness/kube-apiserver.ts';

export const NODE_NAME = 'portcullis-node';
/** A /32 on `lo`: the API server, the kubelet and the node's InternalIP; pods reach it via the bridge. */
export const HOST_ADDRESS = '10.200.0.1';
export const APISERVER_PORT = 6443;
export const KUBELET_PORT = 10250;
export const BRIDGE = 'pcl0';
export const POD_CIDR = '10.244.0.0/24';
export const POD_GATEWAY = '10.244.0.1';
export const SERVICE_CIDR = SERVICE_CLUSTER_IP_RANGE;
/** The `kubernetes` Service's ClusterIP: the first address of the range; in the API server's certificate. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
export const DNS_SERVICE_IP = '10.0.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** Prefix of every iptables chain this harness creates itself, so teardown finds exactly those. */
export const CHAIN_PREFIX = 'PORTCULLIS-NODE';
