import { createServer, type Server, type ServerResponse } from 'node:http';
import { answerClientError } from './client-error.ts';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { buildLogFields, type BuildInfo } from '../lib/build-info.ts';
import { canonicalJson } from '../policy/hash.ts';
import type { LoadedPolicy } from '../policy/load.ts';
import { isKilled } from '../policy/authorize.ts';
import { createAccess } from './access.ts';
import { policyChangeEvents } from './audit/policy-events.ts';
import type { AuditSink } from './audit/sink.ts';
import { startAudit } from './audit/start-audit.ts';
import { createAuthenticator, type Authenticator } from './auth/authenticator.ts';
import { createIdpTrust, type IdpTrust } from './auth/idp-trust.ts';
import type { KeyFetchResult } from './auth/remote-key-set.ts';
import { protectedResourceMetadata, resourceMetadataPaths } from './auth/resource-metadata.ts';
import { isLoopback, type SidecarConfig } from './config.ts';
import { serveObservedTools } from './contracts/admin.ts';
import { ToolContracts } from './contracts/tool-contracts.ts';
import type { SidecarContext } from './context.ts';
import { createEgressMetrics } from './egress/metrics.ts';
import type { Dialer, Resolver } from './egress/net.ts';
import { createEgressProxy } from './egress/proxy.ts';
import { createCallLimiter } from './limits/call-limiter.ts';
import { createSidecarMetrics } from './observability/metrics.ts';
import { handleRequest } from './pipeline.ts';
import type { PolicySource } from './policy/file-source.ts';
import type { KubeSource } from '../kube/credentials.ts';
import { PolicyHolder } from './policy/policy-holder.ts';
import { writeJson } from './respond.ts';
import { SessionStore } from './session-store.ts';
import { createHttpUpstream } from './transports/upstream-http.ts';
import { createStdioUpstream } from './transports/upstream-stdio.ts';
import type { Upstream } from './transports/upstream.ts';
import { createUpstreamIdentity } from './upstream-identity/upstream-identity.ts';
import { startTracing } from './tracing/start-tracing.ts';

/** A running sidecar: the MCP endpoint, the admin endpoint, and what tests need to observe it. */
export interface RunningSidecar {
  readonly url: string;
  readonly adminUrl: string;
  /** The egress forward proxy (what the server container gets as HTTP_PROXY / HTTPS_PROXY). */
  readonly egressUrl: string;
  readonly context: SidecarContext;
  readonly source: PolicySource;
  /** Stops serving; audit events still in the WAL are shipped for up to `drainMs` (default 5 s) first. */
  stop(options?: { drainMs?: number }): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  /** The version and commit, for the start-up log line (what a bug report needs first). */
  readonly build?: BuildInfo;
  readonly audit?: AuditSink;
  readonly clock?: () => number;
  /** Environment of a spawned stdio server (minimal by default: nothing of ours leaks into it). */
  readonly childEnv?: Readonly<Record<string, string>>;
  /**
   * Credentials for the kubernetes policy source (default: $KUBECONFIG, ~/.kube/config, else the pod's
   * ServiceAccount, as kube/load-source.ts reads them).
   */
  readonly kube?: KubeSource;
  /**
   * The process environment, where the kubernetes policy source finds its kubeconfig or API address (none by
   * default: then client-node's KubeConfig reads its own).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Tests: heartbeat interval and batch size of the audit shipper. */
  readonly auditShipping?: { readonly heartbeatIntervalMs?: number; readonly maxBatchEvents?: number };
  /** Tests: the egress proxy's DNS resolver and TCP dialer (default: the system's). */
  readonly egress?: { readonly resolve?: Resolver; readonly dial?: Dialer };
}

/**
 * In a pod: the projected service-account token (re-read as the kubelet rotates it), the cluster CA and
 * the in-cluster API address, read the operator's way (kube/load-source.ts). @kubernetes/client-node is
 * loaded only when those lean credentials do not suffice (an exec plugin, a $KUBECONFIG list): its
 * KubeConfig brings ~55 MiB of generated API models that a sidecar in a pod never uses (issue #14).
 */
async function kubernetesSource(
  config: SidecarConfig,
  holder: PolicyHolder,
  onError: (m: string) => void,
  kube: KubeSource | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<PolicySource> {
  const [namespace, server] = config.server!.split('/') as [string, string];
  const { startKubernetesSource } = await import('./policy/kubernetes-source.ts');
  const { loadKubeSource } = await import('../kube/load-source.ts');
  const source = kube ?? (await loadKubeSource({ env }));
  return startKubernetesSource({ kube: source, namespace, server, holder, onError });
}

/**
 * Policy from YAML files (file mode, `portcullis dev`). Loaded only here: the YAML parser costs ~3.5 MiB at
 * rest that a sidecar in a pod, whose policy arrives as a JSON bundle, never needs.
 */
async function fileSource(
  config: SidecarConfig,
  holder: PolicyHolder,
  onError: (m: string) => void,
): Promise<PolicySource> {
  const { startFileSource } = await import('./policy/file-source.ts');
  return startFileSource({
    paths: config.policyFiles,
    ...(config.server ? { server: config.server } : {}),
    holder,
    onError,
  });
}

export class SidecarConfigError extends Error {
  readonly code = 'invalid_config';
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

const baseUrl = (address: AddressInfo) =>
  `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

const LOG_FLUSH_MS = 1000;

function bufferedStdout(): ReturnType<typeof pino.destination> {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      clearInterval(timer); // closed on stop
    }
  }, LOG_FLUSH_MS);
  timer.unref();
  return destination;
}

export async function startSidecar(
  config: SidecarConfig,
  options: StartOptions = {},
): Promise<RunningSidecar> {
  if (!isLoopback(config.listen.host) && config.allowedHosts.length === 0) {
    throw new SidecarConfigError(
      `listening on ${config.listen.host} beyond loopback needs --allowed-hosts (the Host names clients use); ` +
        'without them any site could reach this endpoint through DNS rebinding',
    );
  }
  // Buffered, asynchronous log writes: the hot path never waits on stdout. Flushed on stop, and at least
  // every second: a quiet sidecar's start-up and error lines must reach `kubectl logs` without waiting
  // for 4 KiB of company (found on real pods, issue #13).
  const log = options.log ?? pino({ level: config.logLevel }, bufferedStdout());
  const clock = options.clock ?? Date.now;
  const metrics = createSidecarMetrics({ stageTimings: config.stageTimings });
  const holder = new PolicyHolder(clock);
  let port = 0;
  const access = createAccess(config, () => port);

  // The identity provider's CA (--idp-ca-file), besides the system roots, for discovery, JWKS and token
  // exchange only.
  const idpTrust: IdpTrust | undefined = config.idpCaFile
    ? createIdpTrust({
        caFile: config.idpCaFile,
        onLoaded: (certificates) =>
          log.info({ file: config.idpCaFile, certificates }, 'identity provider CA loaded'),
        onError: (error) =>
          log.error(
            { error },
            'identity provider CA not loaded; the last good one (or the system roots) stays',
          ),
      })
    : undefined;
  await idpTrust?.ready;
  // Details (the identity provider's URL, the TLS error) go here and to the audit event, never to callers.
  const onKeyFetch = (result: KeyFetchResult) => {
    metrics.keyFetches.inc({ result: result.ok ? 'ok' : result.kind });
    if (result.ok) log.debug({ keys: result.keys }, 'signing keys fetched');
    else
      log.warn(
        { error: result.error, kind: result.kind },
        'signing keys could not be fetched; tokens cannot be verified without cached keys (answered 503 auth_unavailable)',
      );
  };

  // One authenticator per distinct auth settings, so a policy update that leaves auth alone keeps the
  // key and token caches warm.
  let authenticator: { key: string; bundle: LoadedPolicy['bundle']; value: Authenticator } | undefined;
  const authenticatorFor = (policy: LoadedPolicy): Authenticator => {
    // Per request this is one identity check: the key is computed only when a new bundle arrives.
    if (authenticator?.bundle === policy.bundle) return authenticator.value;
    const settings = config.jwksUri
      ? { ...policy.bundle.spec.auth, jwksUri: config.jwksUri }
      : policy.bundle.spec.auth;
    const key = canonicalJson(settings);
    if (authenticator?.key !== key) {
      authenticator?.value.close?.();
      authenticator = {
        key,
        bundle: policy.bundle,
        value: createAuthenticator(settings, {
          clock,
          onKeyFetch,
          ...(idpTrust ? { dispatcher: idpTrust.dispatcher } : {}),
        }),
      };
    } else {
      authenticator.bundle = policy.bundle;
    }
    return authenticator.value;
  };

  const upstream: Upstream = config.upstreamUrl
    ? createHttpUpstream(config.upstreamUrl)
    : config.upstreamSocket
      ? createStdioUpstream({ socket: config.upstreamSocket }, { log })
      : createStdioUpstream(config.upstreamCommand!, {
          log,
          ...(options.childEnv ? { env: options.childEnv } : {}),
        });

  const upstreamIdentity = await createUpstreamIdentity({
    ...(config.signingKeyFile ? { signingKeyFile: config.signingKeyFile } : {}),
    ...(config.tokenExchangeSecretFile ? { clientSecretFile: config.tokenExchangeSecretFile } : {}),
    ...(config.tokenEndpoint ? { tokenEndpoint: config.tokenEndpoint } : {}),
    ...(idpTrust ? { dispatcher: idpTrust.dispatcher } : {}),
    carrier: config.upstreamUrl ? 'http' : 'stdio',
    log,
    clock,
  });

  const audit = options.audit
    ? undefined
    : await startAudit(config, {
        log,
        clock,
        registry: metrics.registry,
        server: () => {
          const server = holder.current?.bundle.server;
          return server && { namespace: server.namespace, name: server.name };
        },
        serving: () => ({
          ...(holder.current ? { policyHash: holder.current.hash } : {}),
          // Read when a heartbeat is sent, after start-up: `context` exists by then.
          tools: context.contracts
            .snapshot()
            .tools.map(({ name, digest, state }) => ({ name, digest, state })),
        }),
        ...(options.auditShipping ? { shipping: options.auditShipping } : {}),
      });

  // Off by default; when off, the OpenTelemetry SDK is never loaded (tracing/start-tracing.ts).
  const tracer = await startTracing(config, { registry: metrics.registry, log, clock });

  const context: SidecarContext = {
    config,
    access,
    policy: holder,
    authenticatorFor,
    upstream,
    upstreamIdentity,
    sessions: new SessionStore({ clock }),
    inFlight: new Map(),
    limits: createCallLimiter(metrics),
    contracts: new ToolContracts({
      upstream,
      registry: metrics.registry,
      log,
      clock,
      audit: (event) => context.audit.emit(event),
    }),
    audit: options.audit ?? audit!.sink,
    metrics,
    ...(tracer ? { tracer } : {}),
    log,
    clock,
  };

  holder.onChange((policy, previous) => {
    access.update(policy);
    metrics.policyInfo.reset();
    metrics.policyInfo.set({ hash: policy.hash }, 1);
    metrics.policyLoadedAt.set(clock() / 1000);
    metrics.killSwitch.set({ scope: 'server' }, policy.serverKill ? 1 : 0);
    metrics.killSwitch.set({ scope: 'tools' }, policy.killedTools.size);
    metrics.killSwitch.set({ scope: 'policies' }, policy.policyKills.length);
    log.info(
      { policyHash: policy.hash, previous: previous?.hash, killed: Boolean(policy.serverKill) },
      'policy installed',
    );
    if (config.abortKilledCalls) stopKilledCalls(context, policy);
  });
  holder.onChange((policy) => context.contracts.setPolicy(policy));
  holder.onChange((policy, previous) => {
    for (const event of policyChangeEvents(previous, policy, new Date(clock()).toISOString()))
      context.audit.emit(event);
  });

  const onPolicyError = (message: string) => {
    metrics.policyErrors.inc();
    log.error({ error: message }, 'policy update refused; the last good policy stays in force');
  };
  const source =
    config.policySource === 'kubernetes'
      ? await kubernetesSource(config, holder, onPolicyError, options.kube, options.env ?? {})
      : await fileSource(config, holder, onPolicyError);
  await source.ready;
  audit?.start();

  // The server container's way out (HTTP_PROXY): default deny, spec.egress of the policy in force.
  const egress = createEgressProxy({
    policy: holder,
    audit: context.audit,
    metrics: createEgressMetrics(metrics.registry),
    log,
    clock,
    ...options.egress,
    limits: {
      maxBytesPerConnection: config.egressMaxBytes,
      idleTimeoutMs: config.egressIdleTimeoutSeconds * 1000,
    },
  });

  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (request, response) => {
    const policy = holder.current;
    const path = request.url?.split('?', 1)[0] ?? '/';
    if (
      request.method === 'GET' &&
      policy &&
      resourceMetadataPaths(policy.bundle.spec.auth.publicUrl).includes(path)
    ) {
      const body = JSON.stringify(protectedResourceMetadata(policy.bundle.spec.auth));
      return writeJson(
        response,
        200,
        { 'content-type': 'application/json', 'cache-control': 'max-age=300' },
        body,
      );
    }
    void handleRequest(context, request, response);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) =>
    answerClientError(error, socket, metrics.refusals),
  );
  const admin = createServer((request, response) => void serveAdmin(context, request.url ?? '/', response));

  const stop = async (stopOptions: { drainMs?: number } = {}) => {
    source.stop();
    context.contracts.close();
    server.closeAllConnections();
    admin.closeAllConnections();
    await egress.close();
    await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => admin.close(r))]);
    await upstream.close();
    await upstreamIdentity.close();
    authenticator?.value.close?.();
    idpTrust?.close();
    await audit?.close(stopOptions.drainMs ?? 5000);
    await tracer?.shutdown(); // the spans still buffered are exported first
    log.flush();
  };

  let address: AddressInfo, adminAddress: AddressInfo, egressAddress: AddressInfo;
  try {
    address = await listen(server, config.listen.host, config.listen.port);
    port = address.port;
    access.refresh();
    adminAddress = await listen(admin, config.adminListen.host, config.adminListen.port);
    egressAddress = await egress.listen(config.egressListen.host, config.egressListen.port);
  } catch (error) {
    // A sidecar that cannot listen (a port taken) stops what it started, so the process exits with the
    // error and the kubelet restarts it, instead of lingering half-started with its first port open.
    await stop({ drainMs: 0 }).catch(() => undefined);
    throw error;
  }
  log.info(
    {
      ...(options.build ? buildLogFields(options.build) : {}),
      listen: baseUrl(address),
      admin: baseUrl(adminAddress),
      egress: baseUrl(egressAddress),
      policy: holder.status(),
    },
    'sidecar started',
  );

  return {
    url: `${baseUrl(address)}${access.mcpPath()}`,
    adminUrl: baseUrl(adminAddress),
    egressUrl: baseUrl(egressAddress),
    context,
    source,
    stop,
  };
}

/** A kill switch bites on running calls too: every in-flight call it now covers is cancelled. */
function stopKilledCalls(context: SidecarContext, policy: LoadedPolicy): void {
  for (const [exchange, stop] of context.inFlight) {
    if (exchange.calls.some((call) => isKilled(policy, call.tool))) stop();
  }
}

async function serveAdmin(context: SidecarContext, url: string, response: ServerResponse): Promise<void> {
  const path = url.split('?', 1)[0];
  if (path === '/healthz')
    return writeJson(response, 200, { 'content-type': 'application/json' }, '{"status":"ok"}');
  if (path === '/readyz') {
    const gated = context.policy.gate();
    // A full audit log refuses every call: out of the Service until it drains, so replicas take over.
    const auditRoom = context.audit.hasRoom();
    const ready = !('code' in gated) && auditRoom;
    const reason =
      'code' in gated
        ? gated.reason
        : auditRoom
          ? undefined
          : 'the audit log is full (the collector is behind)';
    const body = JSON.stringify({
      ready,
      policy: context.policy.status(),
      ...(reason ? { reason } : {}),
    });
    return writeJson(response, ready ? 200 : 503, { 'content-type': 'application/json' }, body);
  }
  if (path === '/.well-known/jwks.json') {
    // The public keys of upstream tokens minted here (upstreamAuth Minted), for the server container.
    const jwks = context.upstreamIdentity.jwks();
    if (jwks !== undefined)
      return writeJson(
        response,
        200,
        { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=30' },
        jwks,
      );
  }
  if (path === '/tools') return serveObservedTools(context.contracts, response);
  if (path === '/metrics') {
    const text = await context.metrics.registry.metrics();
    return writeJson(response, 200, { 'content-type': context.metrics.registry.contentType }, text);
  }
  writeJson(response, 404, { 'content-type': 'application/json' }, '{"error":"not found"}');
}
