import { parseArgs } from 'node:util';
import { z } from 'zod';
import { COLLECTOR_AUDIENCE } from '../../api/audit/v1/identity.ts';
import { collectorConfigSchema, type CollectorConfigInput } from '../../collector/config.ts';
import { CollectorConfigError, startCollector } from '../../collector/start.ts';
import { readBuildInfo } from '../build-info.ts';
import { TlsConfigError } from '../../collector/tls.ts';
import type { CliIo } from '../io.ts';
import { EXIT } from '../io.ts';

export const COLLECTOR_HELP = `portcullis collector — audit ingest, store, query and export

Usage:
  portcullis collector [flags]

Listening:
  --listen HOST:PORT         ingest (POST /v1/events, /v1/heartbeat) and query (GET /v1/events,
                             /v1/sidecars) (default 0.0.0.0:8080)
  --metrics-listen HOST:PORT /metrics, /healthz, /readyz (default 0.0.0.0:9090; always plain HTTP)
  --tls-cert-file FILE       serve --listen over HTTPS with this PEM certificate (leaf first, then
                             intermediates); needs --tls-key-file. Both files are re-read every second:
                             a rotated pair serves new connections, open ones are not dropped; a pair
                             that does not load is refused (at start: exit 2; later: the old one stays).
                             The certificate in force expires at
                             portcullis_collector_tls_certificate_expiry_seconds (on --metrics-listen)
  --tls-key-file FILE        the PEM private key of --tls-cert-file

Store:
  --store sqlite|postgres    where events are kept (default sqlite: one replica)
  --sqlite-path FILE         the SQLite database (default /var/lib/portcullis/audit.db)
  --postgres-url URL         postgres://... (prefer --postgres-url-file)
  --postgres-url-file FILE   a file holding the URL, e.g. a mounted Secret
  --retention DURATION       delete events older than this (default 720h; units ms s m h d)

Sidecar authentication (projected service-account tokens; the token of <ns>/<server>-mcp may carry
events of server <ns>/<server> only):
  --auth tokenreview|jwks    TokenReview at the API server (default; needs create tokenreviews, e.g.
                             ClusterRole system:auth-delegator), or local verification against the
                             service-account issuer's keys (no API call per new token; cannot see a
                             deleted ServiceAccount before the token expires)
  --audience AUD             the audience sidecar tokens must carry (default ${COLLECTOR_AUDIENCE})
  --jwks-url URL             jwks: keys from here instead of the API server's /openid/v1/jwks
  --issuer ISS               jwks: expected iss (default: the API server's OpenID discovery document)
  --auth-cache DURATION      reuse a verified token this long, never past its exp (default 30s)
  --kubeconfig FILE          credentials for the API server (default: in-cluster, else $KUBECONFIG,
                             else ~/.kube/config)

Query authorization:
  --query-auth kubernetes|none  kubernetes (default): a bearer token, TokenReview, then a
                             SubjectAccessReview for get mcpservers/audit (group portcullis.dev) in the
                             namespace queried, cluster-wide without a namespace filter. none: anyone
                             (development only; refused unless --listen is on loopback)

Export (SIEM; at least once, the idempotency key is sidecar/seq, not the event id):
  --export LIST              comma-separated: stdout (JSON lines; logs then go to stderr), otlp
  --otlp-endpoint URL        OTLP/HTTP base URL; logs are POSTed as JSON to URL/v1/logs

Monitoring:
  --gap-grace DURATION       a sequence hole younger than this may still fill (default 10s)
  --monitor-interval DURATION  how often gaps, lag and export backlog are checked (default 5s)
  --max-batch-bytes N        largest ingest batch accepted (default 8388608; larger: 413)
  --max-inflight-bytes N     ingest bodies and query pages held at once, the memory ceiling (default
                             33554432; beyond: 429 busy with Retry-After, which sidecars retry)
  --shutdown-timeout DURATION  how long SIGTERM waits for in-flight requests and exports (default 25s)
  --log-level LEVEL          fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help                 show this help

Every flag can also be set as an environment variable: PORTCULLIS_<FLAG> (e.g. PORTCULLIS_STORE);
list values are comma-separated.

Exit codes: 0 stopped cleanly, 1 failed at runtime (e.g. the store cannot be opened), 2 invalid flags
or configuration (including a TLS certificate and key that do not load or do not match).
`;

const FLAGS = {
  listen: { type: 'string' },
  'metrics-listen': { type: 'string' },
  'tls-cert-file': { type: 'string' },
  'tls-key-file': { type: 'string' },
  store: { type: 'string' },
  'sqlite-path': { type: 'string' },
  'postgres-url': { type: 'string' },
  'postgres-url-file': { type: 'string' },
  retention: { type: 'string' },
  auth: { type: 'string' },
  audience: { type: 'string' },
  'jwks-url': { type: 'string' },
  issuer: { type: 'string' },
  'auth-cache': { type: 'string' },
  kubeconfig: { type: 'string' },
  'query-auth': { type: 'string' },
  export: { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'gap-grace': { type: 'string' },
  'monitor-interval': { type: 'string' },
  'max-batch-bytes': { type: 'string' },
  'max-inflight-bytes': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags win over PORTCULLIS_* environment variables; the result is validated once, by the schema. */
export function collectorConfigFromArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CollectorConfigInput | 'help' {
  const { values } = parseArgs({ args: [...args], options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  const pick = (flag: Exclude<keyof typeof FLAGS, 'help'>) =>
    values[flag] ?? env[`PORTCULLIS_${flag.toUpperCase().replaceAll('-', '_')}`];
  const maxBatchBytes = pick('max-batch-bytes');
  const maxInflightBytes = pick('max-inflight-bytes');
  const input = {
    listen: pick('listen'),
    metricsListen: pick('metrics-listen'),
    tlsCertFile: pick('tls-cert-file'),
    tlsKeyFile: pick('tls-key-file'),
    store: pick('store'),
    sqlitePath: pick('sqlite-path'),
    postgresUrl: pick('postgres-url'),
    postgresUrlFile: pick('postgres-url-file'),
    retentionMs: pick('retention'),
    auth: pick('auth'),
    audience: pick('audience'),
    jwksUrl: pick('jwks-url'),
    issuer: pick('issuer'),
    authCacheMs: pick('auth-cache'),
    kubeconfig: pick('kubeconfig'),
    queryAuth: pick('query-auth'),
    export: pick('export')
      ?.split(',')
      .map((v) => v.trim())
      .filter(Boolean),
    otlpEndpoint: pick('otlp-endpoint'),
    gapGraceMs: pick('gap-grace'),
    monitorIntervalMs: pick('monitor-interval'),
    maxBatchBytes: maxBatchBytes === undefined ? undefined : Number(maxBatchBytes),
    maxInflightBytes: maxInflightBytes === undefined ? undefined : Number(maxInflightBytes),
    shutdownTimeoutMs: pick('shutdown-timeout'),
    logLevel: pick('log-level'),
  };
  return Object.fromEntries(
    Object.entries(input).filter(([, v]) => v !== undefined),
  ) as unknown as CollectorConfigInput;
}

export async function runCollector(args: readonly string[], io: CliIo): Promise<number> {
  let input: CollectorConfigInput | 'help';
  try {
    input = collectorConfigFromArgs(args, io.env);
  } catch (error) {
    io.err(
      `portcullis collector: ${(error as Error).message}\nRun 'portcullis collector --help' for usage.\n`,
    );
    return EXIT.usage;
  }
  if (input === 'help') {
    io.out(COLLECTOR_HELP);
    return EXIT.ok;
  }
  const parsed = collectorConfigSchema.safeParse(input);
  if (!parsed.success) {
    io.err(`portcullis collector: invalid configuration:\n${z.prettifyError(parsed.error)}\n`);
    return EXIT.usage;
  }
  try {
    const build = await readBuildInfo({ env: io.env });
    const collector = await startCollector(parsed.data, { stdout: (text) => io.out(text), build });
    await io.untilShutdown();
    await collector.stop();
    return EXIT.ok;
  } catch (error) {
    io.err(`portcullis collector: ${(error as Error).message}\n`);
    return error instanceof CollectorConfigError || error instanceof TlsConfigError
      ? EXIT.usage
      : EXIT.failure;
  }
}
