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
  /**
   * Where sidecars ship audit events; NetworkPolicy allows exactly this. Without it sidecars write audit
   * events to their log only (no write-ahead log, no delivery guarantee): fine for a trial, not for
   * production.
   */
  collector: z
    .strictObject({
      /** The collector's Service URL, for example https://portcullis-collector.portcullis-system.svc:8443. */
      url: z.url(),
      namespace: z.string().min(1),
      podLabels: z.record(z.string(), z.string()),
      port: z.int().min(1).max(65535),
      /** A ConfigMap (in each server's namespace) with `ca.crt` that signs the collector's certificate. */
      caConfigMap: z.string().min(1).optional(),
      /** The WAL volume's size limit; the WAL itself is bounded below it. */
      walSizeLimit: z.string().default('512Mi'),
      walMaxBytes: z.string().default('384Mi'),
      /** How often the operator reads the sidecars' reports (served policy, observed tools) from the collector. */
      reportIntervalSeconds: z.int().min(1).max(3600).default(10),
      /** Heartbeats older than this do not count (a pod that is gone). */
      reportStaleSeconds: z.int().min(10).max(86_400).default(60),
      /** A bearer token file for reading the collector instead of the operator's own credentials. */
      tokenFile: z.string().min(1).optional(),
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
