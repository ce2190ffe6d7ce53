import { z } from 'zod';
import { DEFAULT_SHIP_LINGER_MS, MAX_SHIP_LINGER_MS } from '../api/audit/v1/shipping.ts';
import { DEFAULT_SYNC_INTERVAL_MS } from './audit/wal/options.ts';

/**
 * The sidecar's own settings (where to listen, where the upstream is, where policy comes from), validated
 * once at the boundary. What to enforce is not here: it comes from the policy bundle.
 */
const hostPort = (fallback: string) =>
  z
    .string()
    .regex(
      /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
      'expected host:port, for example 0.0.0.0:8443 or 127.0.0.1:8443',
    )
    .default(fallback)
    .transform((value) => {
      const at = value.lastIndexOf(':');
      return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
    });

const loopbackHttpUrl = z
  .url()
  .refine((u) => /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(u), {
    message:
      'the upstream must be a plain http URL on loopback (the server container shares the pod network)',
  });

export const sidecarConfigSchema = z
  .strictObject({
    listen: hostPort('0.0.0.0:8443'),
    adminListen: hostPort('0.0.0.0:9090'),
    /** The MCP endpoint path clients use. Default: the path of the policy's publicUrl. */
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\-/]*$/)
      .optional(),
    upstreamUrl: loopbackHttpUrl.optional(),
    upstreamCommand: z.array(z.string().min(1)).min(1).optional(),
    /** A stdio server in another container, through portcullis-stdio-bridge's Unix socket. */
    upstreamSocket: z.string().min(1).optional(),
    /** file: YAML files (dev, tests, no cluster); kubernetes: watch the bundle and the McpServer through the API. */
    policySource: z.enum(['file', 'kubernetes']).default('file'),
    policyFiles: z.array(z.string().min(1)).default([]),
    server: z.string().optional(),
    allowedHosts: z.array(z.string().min(1)).default([]),
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** Test and dev only: fetch signing keys from here instead of the issuer's (http allowed on loopback only). */
    jwksUri: z.url().optional(),
    /**
     * PEM CA certificates trusted, besides the system roots, for the identity provider: discovery, JWKS,
     * token exchange (spec.auth.caBundle, mounted by the operator; re-read on change).
     */
    idpCaFile: z.string().min(1).optional(),
    /** upstreamAuth Minted: PEM PKCS#8 private key the upstream tokens are signed with (re-read on change). */
    signingKeyFile: z.string().min(1).optional(),
    /** upstreamAuth TokenExchange: file holding the client secret for the token endpoint (re-read on change). */
    tokenExchangeSecretFile: z.string().min(1).optional(),
    /** Test and dev only: the token endpoint to use instead of the policy's (http allowed on loopback only). */
    tokenEndpoint: z.url().optional(),
    /** The egress forward proxy the server container reaches the network through (HTTP_PROXY); loopback only. */
    egressListen: hostPort('127.0.0.1:15001'),
    /** Bytes through one egress connection, both directions together. */
    egressMaxBytes: z
      .int()
      .min(1)
      .default(1024 ** 3),
    /** An egress connection with no traffic for this long is closed. */
    egressIdleTimeoutSeconds: z.int().min(1).max(86_400).default(60),
    keepAliveSeconds: z.int().min(1).max(300).default(15),
    /** The audit write-ahead log's directory (a volume that outlives the container). Unset: audit to the log. */
    auditWal: z.string().min(1).optional(),
    /** The WAL's bound: when full, calls are refused (audit_unavailable) rather than forwarded unrecorded. */
    auditWalMaxBytes: z
      .int()
      .min(1024 * 1024)
      .default(256 * 1024 * 1024),
    /** Batched durability: events reach the disk within this many milliseconds (group commit). */
    auditSyncMs: z.int().min(1).max(1000).default(DEFAULT_SYNC_INTERVAL_MS),
    /**
     * How long the shipper lets a batch fill before sending it (0: at once). Delivery delay only: events are
     * in the WAL and synced on auditSyncMs regardless (audit/ship-linger.ts).
     */
    auditLingerMs: z.int().min(0).max(MAX_SHIP_LINGER_MS).default(DEFAULT_SHIP_LINGER_MS),
    /** The audit collector's base URL; https, or http on loopback, unless collectorPlaintext. */
    collectorUrl: z.url().optional(),
    /** Allow plain http to a collector beyond loopback (the token would cross the network in clear). */
    collectorPlaintext: z.boolean().default(false),
    /** A projected service-account token whose audience is the collector (re-read on every request). */
    collectorTokenFile: z.string().min(1).default('/var/run/secrets/portcullis.dev/collector/token'),
    /** PEM CA bundle that signs the collector's certificate (default: the system's roots). */
    collectorCaFile: z.string().min(1).optional(),
    /** This pod's name (downward API), reported to the collector for people reading the audit trail. */
    podName: z.string().min(1).max(253).optional(),
    /** Cancel running calls that a newly engaged kill switch covers (default), not only new ones. */
    abortKilledCalls: z.boolean().default(true),
    /**
     * OTLP/HTTP endpoint for traces (the full URL, .../v1/traces). Unset (the default): no tracing, and the
     * OpenTelemetry SDK is never loaded. Spans carry no identities, tokens or arguments, so plain http to
     * an in-cluster collector is allowed.
     */
    otlpTracesEndpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** Share of new traces recorded (0..1); a client's sampled flag is honoured either way (parent-based). */
    traceSampleRatio: z.number().min(0).max(1).default(1),
    /** Observe each pipeline stage's duration in a histogram (for benchmarks and investigations). */
    stageTimings: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => isLoopback(c.egressListen.host), {
    message: '--egress-listen must be a loopback address (the server container shares the pod network)',
  })
  .refine((c) => c.policySource !== 'file' || c.policyFiles.length > 0, {
    message: 'the file policy source needs --policy FILE|DIR',
  })
  .refine((c) => c.policySource !== 'kubernetes' || /^[a-z0-9-]+\/[a-z0-9-]+$/.test(c.server ?? ''), {
    message: 'the kubernetes policy source needs --server NAMESPACE/NAME',
  })
  .refine(
    (c) => [c.upstreamUrl, c.upstreamCommand, c.upstreamSocket].filter((u) => u !== undefined).length === 1,
    {
      message:
        'set exactly one of --upstream (a loopback URL), --upstream-command (a stdio server to spawn) and --upstream-socket (a stdio bridge socket)',
    },
  )
  .refine((c) => (c.auditWal === undefined) === (c.collectorUrl === undefined), {
    message: '--audit-wal and --collector-url go together: the WAL holds events until the collector has them',
  })
  .refine(
    (c) =>
      c.collectorUrl === undefined ||
      c.collectorPlaintext ||
      c.collectorUrl.startsWith('https://') ||
      /^http:\/\/(127\.|localhost|\[::1\])/.test(c.collectorUrl),
    { message: '--collector-url must be https, or http on loopback (or set --collector-plaintext)' },
  )
  .refine(
    (c) =>
      c.tokenEndpoint === undefined ||
      c.tokenEndpoint.startsWith('https://') ||
      /^http:\/\/(127\.|localhost|\[::1\])/.test(c.tokenEndpoint),
    { message: '--token-endpoint must be https, or http on loopback' },
  )
  .refine(
    (c) =>
      c.jwksUri === undefined ||
      c.jwksUri.startsWith('https://') ||
      /^http:\/\/(127\.|localhost|\[::1\])/.test(c.jwksUri),
    {
      message: '--jwks-uri must be https, or http on loopback',
    },
  );

export type SidecarConfig = z.output<typeof sidecarConfigSchema>;
export type SidecarConfigInput = z.input<typeof sidecarConfigSchema>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}
