import { z } from 'zod';
import { COLLECTOR_AUDIENCE } from '../api/audit/v1/identity.ts';
import { parseDuration } from './duration.ts';

/** The collector's settings, validated once at the boundary (flags and PORTCULLIS_* variables). */
const hostPort = (fallback: string) =>
  z
    .string()
    .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, for example 0.0.0.0:8080')
    .default(fallback)
    .transform((value) => {
      const at = value.lastIndexOf(':');
      return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
    });

const duration = (fallback: string, min: number, max: number) =>
  z
    .string()
    .default(fallback)
    .transform((text, context) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms < min || ms > max) {
        context.addIssue({
          code: 'custom',
          message: `expected a duration between ${min} ms and ${max} ms, like 720h or 30s`,
        });
        return z.NEVER;
      }
      return ms;
    });

const httpsOrLoopback = (flag: string) =>
  z.url().refine((u) => u.startsWith('https://') || /^http:\/\/(127\.|localhost[:/]|\[::1\])/.test(u), {
    message: `${flag} must be https, or http on loopback`,
  });

export const EXPORTERS = ['stdout', 'otlp'] as const;
export type ExporterName = (typeof EXPORTERS)[number];

const DAY_MS = 86_400_000;

export const collectorConfigSchema = z
  .strictObject({
    /** Ingest (sidecars) and query (readers). */
    listen: hostPort('0.0.0.0:8080'),
    /** /metrics, /healthz, /readyz (always plain HTTP: probes and Prometheus). */
    metricsListen: hostPort('0.0.0.0:9090'),
    /** Serve --listen over HTTPS with this certificate (PEM, leaf first) and key; re-read when they change. */
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    store: z.enum(['sqlite', 'postgres']).default('sqlite'),
    sqlitePath: z.string().min(1).default('/var/lib/portcullis/audit.db'),
    postgresUrl: z.string().min(1).optional(),
    /** A file holding the URL (a mounted Secret), so the password is not in the pod spec. */
    postgresUrlFile: z.string().min(1).optional(),
    /** How sidecar tokens are checked: TokenReview at the API server, or locally against the issuer's keys. */
    auth: z.enum(['tokenreview', 'jwks']).default('tokenreview'),
    audience: z.string().min(1).max(256).default(COLLECTOR_AUDIENCE),
    /** jwks: the keys from here instead of the API server's /openid/v1/jwks. */
    jwksUrl: httpsOrLoopback('--jwks-url').optional(),
    /** jwks: the expected iss; default: the API server's /.well-known/openid-configuration. */
    issuer: z.string().min(1).optional(),
    kubeconfig: z.string().min(1).optional(),
    /** Who may read events: Kubernetes RBAC (mcpservers/audit), or anyone (loopback development only). */
    queryAuth: z.enum(['kubernetes', 'none']).default('kubernetes'),
    export: z.array(z.enum(EXPORTERS)).default([]),
    /** OTLP/HTTP base URL; logs go to {endpoint}/v1/logs. */
    otlpEndpoint: z.url().optional(),
    retentionMs: duration('720h', 60_000, 3650 * DAY_MS),
    maxBatchBytes: z
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(8 * 1024 * 1024),
    /**
     * Bytes of ingest bodies and query pages in flight at once (http/byte-budget.ts). A batch costs about
     * seven times its size while parsed and stored; 32 MiB keeps a busy collector well inside the chart's
     * 512 MiB limit.
     */
    maxInflightBytes: z
      .int()
      .min(1024 * 1024)
      .max(4 * 1024 * 1024 * 1024)
      .default(32 * 1024 * 1024),
    /** How long a reviewed sidecar token is reused (never past its exp). */
    authCacheMs: duration('30s', 0, 300_000),
    /** A hole younger than this may still fill (batches in flight); older ones are reported. */
    gapGraceMs: duration('10s', 0, 3_600_000),
    /** How often gaps, lag and export backlog are looked at. */
    monitorIntervalMs: duration('5s', 50, 300_000),
    /** How long shutdown waits for in-flight requests and exports. */
    shutdownTimeoutMs: duration('25s', 0, 600_000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => (c.tlsCertFile === undefined) === (c.tlsKeyFile === undefined), {
    message: '--tls-cert-file and --tls-key-file go together: give both (HTTPS) or neither (plain HTTP)',
  })
  .refine((c) => c.queryAuth !== 'none' || isLoopback(c.listen.host), {
    message:
      '--query-auth none lets anyone read the audit trail: it is allowed only with --listen on loopback',
  })
  .refine(
    (c) => c.store !== 'postgres' || (c.postgresUrl === undefined) !== (c.postgresUrlFile === undefined),
    {
      message: 'the postgres store needs exactly one of --postgres-url and --postgres-url-file',
    },
  )
  .refine((c) => !c.export.includes('otlp') || c.otlpEndpoint !== undefined, {
    message: 'the otlp exporter needs --otlp-endpoint',
  })
  .refine((c) => c.auth !== 'jwks' || c.jwksUrl === undefined || c.issuer !== undefined, {
    message: '--jwks-url needs --issuer (the service-account issuer the tokens carry)',
  });

export type CollectorConfig = z.output<typeof collectorConfigSchema>;
export type CollectorConfigInput = z.input<typeof collectorConfigSchema>;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}
