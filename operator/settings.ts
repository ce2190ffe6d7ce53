import { z } from 'zod';

/**
 * How the operator wires the workloads it builds: the sidecar image and ports, where the API server and
 * the audit collector are (for NetworkPolicy), and the cluster DNS. Validated once at start-up.
 */
export const operatorSettingsSchema = z.strictObject({
  sidecarImage: z.string().min(1).default('ghcr.io/portcullis-dev/portcullis:0.1.0'),
  sidecarImagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  /** Port of the MCP endpoint on the sidecar (the only port the Service exposes). */
  sidecarPort: z.int().min(1).max(65535).default(8443),
  adminPort: z.int().min(1).max(65535).default(9090),
  egressProxyPort: z.int().min(1).max(65535).default(15001),
  /** CIDRs of the API server endpoints: the sidecar watches its policy there. */
  apiServerCidrs: z.array(z.string()).default([]),
  apiServerPort: z.int().min(1).max(65535).default(443),
  /** Where sidecars ship audit events; NetworkPolicy allows exactly this. */
  collector: z
    .strictObject({
      namespace: z.string().min(1),
      podLabels: z.record(z.string(), z.string()),
      port: z.int().min(1).max(65535),
    })
    .optional(),
  /** Cluster DNS pods, allowed for name resolution. */
  dns: z
    .strictObject({
      namespaceLabels: z.record(z.string(), z.string()),
      podLabels: z.record(z.string(), z.string()),
    })
    .default({
      namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
      podLabels: { 'k8s-app': 'kube-dns' },
    }),
  clusterDomain: z.string().default('cluster.local'),
});

export type OperatorSettings = z.output<typeof operatorSettingsSchema>;
