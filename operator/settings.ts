import { z } from 'zod';
import { DEFAULT_SHIP_LINGER_MS, MAX_SHIP_LINGER_MS } from '../api/audit/v1/shipping.ts';
import { configMapKeyRef, secretKeyRef } from '../api/v1alpha1/common.ts';

const pemCertificates = z
  .string()
  .regex(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, 'a PEM certificate (bundle)')
  .max(64 * 1024);

/** Kubernetes accepts runAsUser 0..2147483647; 0 (root) is not a choice for either container. */
const uid = z.int().min(1).max(2_147_483_647);

/**
 * The sidecar container's NODE_OPTIONS unless the settings say otherwise (docs/performance.md, "The
 * sidecar as a pod runs it"): 4 MiB semi-spaces keep the heap near its live set (peak RSS under load
 * 150-160 instead of 342-362 MiB, at some CPU: docs/DESIGN.md, "Sidecar memory"), and are the smallest that
 * do not promote every call in flight (2 MiB doubled the p99: "Where the pod's CPU per call goes"); the old-generation
 * cap sits under the default memory limit, so a runaway heap ends in a V8 error that names it rather than
 * an OOM kill. make bench-sidecar's `pod` configuration runs with exactly this.
 */
export const DEFAULT_SIDECAR_NODE_OPTIONS = '--max-semi-space-size=4 --max-old-space-size=160';

/**
 * How the operator wires the workloads it builds: the sidecar image and ports, where the API server and
 * the audit collector are (for NetworkPolicy), the cluster DNS, and the egress lock. Validated once at
 * start-up.
 */
export const operatorSettingsSchema = z
  .strictObject({
    sidecarImage: z.string().min(1).default('ghcr.io/portcullis-dev/portcullis:0.1.0'),
    sidecarImagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
    /** Port of the MCP endpoint on the sidecar (the only port the Service exposes). */
    sidecarPort: z.int().min(1).max(65535).default(8443),
    adminPort: z.int().min(1).max(65535).default(9090),
    egressProxyPort: z.int().min(1).max(65535).default(15001),
    /**
     * The sidecar container's resources when an McpServer sets no spec.sidecar.resources. Measured in real
     * pods (docs/performance.md, "Sidecar memory in a pod"): 77–93 MiB resident fresh, ~117 MiB after 24k
     * calls, ~123 MiB at 500 calls/s. The request covers the steady state so the scheduler does not
     * overcommit the node; the limit leaves room for V8's heap growth under bursts.
     */
    sidecarResources: z
      .strictObject({
        requests: z.partialRecord(z.enum(['cpu', 'memory']), z.string().min(1)).optional(),
        limits: z.partialRecord(z.enum(['cpu', 'memory']), z.string().min(1)).optional(),
      })
      .default({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } }),
    /** NODE_OPTIONS of every sidecar container; empty: none (Node's own heap sizing). */
    sidecarNodeOptions: z
      .string()
      .max(1024)
      .regex(/^[^\n]*$/, 'one line')
      .default(DEFAULT_SIDECAR_NODE_OPTIONS),
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
        /**
         * The PEM CA that signs the collector's certificate, given once (the Helm chart renders it). The operator
         * puts it beside each server's policy bundle (key `collector-ca.crt`), so no per-namespace ConfigMap has to
         * be copied around; a CA is public, and the sidecar already reads that ConfigMap.
         */
        caBundle: pemCertificates.optional(),
        /** The WAL volume's size limit; the WAL itself is bounded below it. */
        walSizeLimit: z.string().default('512Mi'),
        walMaxBytes: z.string().default('384Mi'),
        /**
         * The sidecar shipper's linger (--audit-linger-ms): how long a batch to the collector may fill
         * before it is sent. Delivery delay only; the WAL syncs on its own interval.
         */
        shipLingerMs: z.int().min(0).max(MAX_SHIP_LINGER_MS).default(DEFAULT_SHIP_LINGER_MS),
        /** How often the operator reads the sidecars' reports (served policy, observed tools) from the collector. */
        reportIntervalSeconds: z.int().min(1).max(3600).default(10),
        /** Heartbeats older than this do not count (a pod that is gone). */
        reportStaleSeconds: z.int().min(10).max(86_400).default(60),
        /** A bearer token file for reading the collector instead of the operator's own credentials. */
        tokenFile: z.string().min(1).optional(),
      })
      .refine((c) => c.caConfigMap === undefined || c.caBundle === undefined, {
        message: 'set at most one of caConfigMap and caBundle: both name the CA sidecars trust',
        path: ['caBundle'],
      })
      .optional(),
    /**
     * The CA every sidecar trusts, besides the system roots, for its identity provider (discovery, JWKS,
     * token exchange), unless the McpServer names its own (spec.auth.caBundle). One of: caBundle, the PEM
     * itself (the operator puts it beside each server's policy bundle, key `idp-ca.crt`); configMapKeyRef or
     * secretKeyRef, an object of that name in each server's namespace (for example distributed by
     * trust-manager).
     */
    identityProviderCa: z
      .strictObject({
        caBundle: pemCertificates.optional(),
        configMapKeyRef: configMapKeyRef.optional(),
        secretKeyRef: secretKeyRef.optional(),
      })
      .refine((c) => [c.caBundle, c.configMapKeyRef, c.secretKeyRef].filter(Boolean).length === 1, {
        message: 'set exactly one of caBundle, configMapKeyRef and secretKeyRef',
      })
      .optional(),
    /**
     * OpenTelemetry traces from every sidecar (off without it): the OTLP/HTTP traces endpoint, the share of
     * new traces recorded, and where that collector's pods run, which the NetworkPolicy opens on the
     * endpoint's port (spans carry no identities or arguments, so plain http is allowed).
     */
    tracing: z
      .strictObject({
        /** The full traces URL, for example http://otel-collector.observability.svc:4318/v1/traces. */
        endpoint: z.url({ protocol: /^https?$/ }),
        sampleRatio: z.number().min(0).max(1).default(1),
        namespace: z.string().min(1),
        podLabels: z.record(z.string(), z.string()),
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
    /**
     * Enabled: each pod's first init container (`portcullis egress-lock`, root with NET_ADMIN and NET_RAW
     * until it exits) installs a packet filter that lets only the sidecar's UID send beyond loopback, so the
     * server container cannot bypass the egress proxy. Disabled: for namespaces whose Pod Security Admission
     * level (baseline, restricted) forbids NET_ADMIN; the server container can then reach whatever the
     * NetworkPolicy opens to the pod, host rules' ports on public addresses included.
     */
    egressLock: z.enum(['Enabled', 'Disabled']).default('Enabled'),
    /** The sidecar container's runAsUser: the UID the egress lock lets out (with the lock enabled). */
    sidecarUid: uid.default(65532),
    /**
     * The server container's runAsUser (with the lock enabled). Forced, not left to the image: an image is
     * not trusted to stay off the sidecar's UID, whose packets the lock lets out.
     */
    serverUid: uid.default(65534),
  })
  .refine((s) => s.sidecarUid !== s.serverUid, {
    message: 'sidecarUid and serverUid must differ: the egress lock tells the containers apart by UID',
    path: ['serverUid'],
  });

export type OperatorSettings = z.output<typeof operatorSettingsSchema>;
