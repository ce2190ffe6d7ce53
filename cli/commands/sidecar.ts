import { parseArgs } from 'node:util';
import { z } from 'zod';
import { quantityToBytes } from '../../policy/quantity.ts';
import { sidecarConfigSchema, type SidecarConfigInput } from '../../sidecar/config.ts';
import { SidecarConfigError, startSidecar } from '../../sidecar/start.ts';
import { readBuildInfo } from '../build-info.ts';
import type { CliIo } from '../io.ts';
import { EXIT } from '../io.ts';

export const SIDECAR_HELP = `portcullis sidecar — the gate in front of one MCP server

Usage:
  portcullis sidecar --policy FILE|DIR [--upstream URL | --upstream-command CMD...] [flags]

Policy:
  --policy-source SOURCE   file (default) or kubernetes
  --policy PATH            file source: McpServer, ToolPolicy and Namespace objects, the same YAML you
                           would kubectl apply (file or directory; repeatable; hot-reloaded)
  --server [NS/]NAME       file source: which McpServer to serve when the files hold several;
                           kubernetes source (required, NS/NAME): the McpServer whose bundle and kill
                           switches to watch through the API (in-cluster credentials)

Upstream (exactly one):
  --upstream URL           the server's Streamable HTTP endpoint on loopback, e.g. http://127.0.0.1:8080/mcp
  --upstream-command CMD   a stdio server to spawn; everything after it is its command line
  --upstream-socket PATH   a stdio server in another container, through portcullis-stdio-bridge

Listening:
  --listen HOST:PORT       MCP endpoint (default 0.0.0.0:8443)
  --admin-listen HOST:PORT /healthz, /readyz, /metrics (default 0.0.0.0:9090)
  --path PATH              MCP path (default: the path of the policy's auth.publicUrl)
  --allowed-hosts H[,H]    Host header values accepted (required beyond loopback; publicUrl's host is added)
  --allowed-origins O[,O]  browser Origins accepted (default none: requests with an Origin are refused)
  --jwks-uri URL           dev/test only: signing keys from here instead of the issuer (http on loopback allowed)
  --idp-ca-file FILE       PEM CA certificates trusted besides the system roots for the identity provider
                           (discovery, JWKS, token exchange); re-read when it changes
  --keep-alive-seconds N   SSE keep-alive comment interval (default 15)
  --stage-timings          observe each pipeline stage's duration (portcullis_stage_duration_seconds)
  --log-level LEVEL        fatal|error|warn|info|debug|trace|silent (default info)

Egress (the forward proxy the server container gets as HTTP_PROXY/HTTPS_PROXY; spec.egress decides):
  --egress-listen HOST:PORT          loopback address of the egress proxy (default 127.0.0.1:15001)
  --egress-max-bytes QUANTITY        bytes per egress connection, both ways (default 1Gi)
  --egress-idle-timeout-seconds N    close egress connections idle this long (default 60)

Upstream identity (spec.upstreamAuth; files are re-read when they change, e.g. a rotated Secret):
  --signing-key FILE       Minted: PEM PKCS#8 private key (EC P-256, RSA, Ed25519); JWKS on the admin port
                           at /.well-known/jwks.json
  --token-exchange-secret FILE  TokenExchange: the client secret for the token endpoint
  --token-endpoint URL     dev/test only: token endpoint instead of the policy's (http on loopback allowed)

Audit (every decision is an event; spec.audit decides durability and what arguments are kept):
  --audit-wal DIR          write-ahead log directory (a volume); needs --collector-url. Unset: events go
                           to the log as JSON lines (development only: nothing guarantees delivery)
  --audit-wal-max-bytes QUANTITY  WAL bound (default 256Mi); when full, tool calls are refused with
                           audit_unavailable (503) until the collector catches up
  --audit-sync-ms N        Batched durability: events reach the disk within N ms (1-1000, default 50)
  --audit-linger-ms N      let a batch to the collector fill for up to N ms before sending it (0-5000,
                           default 100; 0 sends at once): fewer, larger batches cost both sides less CPU;
                           delivery only, events are in the WAL and synced on --audit-sync-ms regardless
  --collector-url URL      the audit collector (https, or http on loopback)
  --collector-token-file FILE  projected service-account token with the collector's audience
                           (default /var/run/secrets/portcullis.dev/collector/token; re-read each request)
  --collector-ca-file FILE PEM CA bundle for the collector's certificate (trusted instead of the system
                           roots); re-read when it changes (its directory is watched, and polled every
                           5 s): new connections use the new CA, a file that does not load keeps the old
                           one (portcullis_audit_collector_ca_reloads_total{result="invalid"})
  --collector-plaintext    allow http to a collector beyond loopback (not recommended)
  --pod-name NAME          this pod's name (downward API), shown in the audit trail

Tracing (OpenTelemetry; off by default, and then the SDK is not loaded):
  --otlp-traces-endpoint URL  OTLP/HTTP (protobuf) traces endpoint, the full URL, e.g.
                           http://otel-collector.observability:4318/v1/traces. One SERVER span per request
                           with an event per pipeline stage, a CLIENT span for the hop to the server; the
                           server is sent the sidecar's traceparent. Spans carry no identities or arguments
  --trace-sample-ratio R   share of new traces recorded, 0..1 (default 1); a client's sampled flag is
                           honoured either way. With tracing off a valid client traceparent (header, or
                           params._meta from 2026-07-28) is still passed on, re-formatted, and its trace id
                           is in the audit event

Every flag can also be set as an environment variable: PORTCULLIS_<FLAG> (e.g. PORTCULLIS_UPSTREAM);
list values are comma-separated.

Exit codes: 0 stopped cleanly, 1 failed at runtime, 2 invalid flags or configuration.
`;

const FLAGS = {
  policy: { type: 'string', multiple: true },
  'policy-source': { type: 'string' },
  server: { type: 'string' },
  upstream: { type: 'string' },
  'upstream-socket': { type: 'string' },
  listen: { type: 'string' },
  'admin-listen': { type: 'string' },
  path: { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'jwks-uri': { type: 'string' },
  'idp-ca-file': { type: 'string' },
  'signing-key': { type: 'string' },
  'token-exchange-secret': { type: 'string' },
  'token-endpoint': { type: 'string' },
  'keep-alive-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  'stage-timings': { type: 'boolean' },
  'egress-listen': { type: 'string' },
  'egress-max-bytes': { type: 'string' },
  'egress-idle-timeout-seconds': { type: 'string' },
  'audit-wal': { type: 'string' },
  'audit-wal-max-bytes': { type: 'string' },
  'audit-sync-ms': { type: 'string' },
  'audit-linger-ms': { type: 'string' },
  'collector-url': { type: 'string' },
  'collector-token-file': { type: 'string' },
  'collector-ca-file': { type: 'string' },
  'collector-plaintext': { type: 'boolean' },
  'pod-name': { type: 'string' },
  'otlp-traces-endpoint': { type: 'string' },
  'trace-sample-ratio': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** Flags win over PORTCULLIS_* environment variables; the result is validated once, here. */
export function sidecarConfigFromArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): SidecarConfigInput | 'help' {
  const split = args.indexOf('--upstream-command');
  const own = split < 0 ? args : args.slice(0, split);
  const command = split < 0 ? undefined : args.slice(split + 1);
  const { values } = parseArgs({ args: [...own], options: FLAGS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  const pick = (flag: keyof typeof FLAGS) => {
    const value = values[flag];
    return typeof value === 'string' ? value : env[`PORTCULLIS_${flag.toUpperCase().replaceAll('-', '_')}`];
  };
  const envCommand = env['PORTCULLIS_UPSTREAM_COMMAND']?.split(' ').filter(Boolean);
  const keepAlive = pick('keep-alive-seconds');
  const maxBytes = pick('egress-max-bytes');
  const idle = pick('egress-idle-timeout-seconds');
  const walBytes = pick('audit-wal-max-bytes');
  const syncMs = pick('audit-sync-ms');
  const lingerMs = pick('audit-linger-ms');
  const sampleRatio = pick('trace-sample-ratio');
  const input = {
    listen: pick('listen'),
    adminListen: pick('admin-listen'),
    path: pick('path'),
    upstreamUrl: pick('upstream'),
    upstreamCommand: command ?? envCommand,
    upstreamSocket: pick('upstream-socket'),
    policySource: pick('policy-source'),
    policyFiles: values.policy ?? list(env['PORTCULLIS_POLICY']),
    server: pick('server'),
    allowedHosts: list(pick('allowed-hosts')),
    allowedOrigins: list(pick('allowed-origins')),
    jwksUri: pick('jwks-uri'),
    idpCaFile: pick('idp-ca-file'),
    signingKeyFile: pick('signing-key'),
    tokenExchangeSecretFile: pick('token-exchange-secret'),
    tokenEndpoint: pick('token-endpoint'),
    keepAliveSeconds: keepAlive === undefined ? undefined : Number(keepAlive),
    logLevel: pick('log-level'),
    stageTimings: values['stage-timings'] ?? (env['PORTCULLIS_STAGE_TIMINGS'] === 'true' ? true : undefined),
    egressListen: pick('egress-listen'),
    egressMaxBytes: maxBytes === undefined ? undefined : (quantityToBytes(maxBytes) ?? Number.NaN),
    egressIdleTimeoutSeconds: idle === undefined ? undefined : Number(idle),
    auditWal: pick('audit-wal'),
    auditWalMaxBytes: walBytes === undefined ? undefined : (quantityToBytes(walBytes) ?? Number.NaN),
    auditSyncMs: syncMs === undefined ? undefined : Number(syncMs),
    // An empty value is refused, not read as 0 (Number('') is 0, which would silently disable the linger).
    auditLingerMs:
      lingerMs === undefined ? undefined : lingerMs.trim() === '' ? Number.NaN : Number(lingerMs),
    collectorUrl: pick('collector-url'),
    collectorTokenFile: pick('collector-token-file'),
    collectorCaFile: pick('collector-ca-file'),
    collectorPlaintext:
      values['collector-plaintext'] ?? (env['PORTCULLIS_COLLECTOR_PLAINTEXT'] === 'true' ? true : undefined),
    podName: pick('pod-name'),
    otlpTracesEndpoint: pick('otlp-traces-endpoint'),
    // Number('') is 0, a valid ratio: an empty value is refused by the schema instead.
    traceSampleRatio:
      sampleRatio === undefined ? undefined : sampleRatio.trim() === '' ? Number.NaN : Number(sampleRatio),
  };
  return Object.fromEntries(
    Object.entries(input).filter(([, v]) => v !== undefined),
  ) as unknown as SidecarConfigInput;
}

export async function runSidecar(args: readonly string[], io: CliIo): Promise<number> {
  let input: SidecarConfigInput | 'help';
  try {
    input = sidecarConfigFromArgs(args, io.env);
  } catch (error) {
    io.err(`portcullis sidecar: ${(error as Error).message}\nRun 'portcullis sidecar --help' for usage.\n`);
    return EXIT.usage;
  }
  if (input === 'help') {
    io.out(SIDECAR_HELP);
    return EXIT.ok;
  }
  const parsed = sidecarConfigSchema.safeParse(input);
  if (!parsed.success) {
    io.err(`portcullis sidecar: invalid configuration:\n${z.prettifyError(parsed.error)}\n`);
    return EXIT.usage;
  }
  try {
    const build = await readBuildInfo({ env: io.env });
    const sidecar = await startSidecar(parsed.data, { childEnv: io.childEnv, env: io.env, build });
    await io.untilShutdown();
    await sidecar.stop();
    return EXIT.ok;
  } catch (error) {
    io.err(`portcullis sidecar: ${(error as Error).message}\n`);
    return error instanceof SidecarConfigError ? EXIT.usage : EXIT.failure;
  }
}
