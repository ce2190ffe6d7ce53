import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { canonicalJson } from '../policy/hash.ts';
import type { LoadedPolicy } from '../policy/load.ts';
import { isKilled } from '../policy/authorize.ts';
import { createAccess } from './access.ts';
import { logAuditSink, type AuditSink } from './audit/sink.ts';
import { createAuthenticator, type Authenticator } from './auth/authenticator.ts';
import { protectedResourceMetadata, resourceMetadataPaths } from './auth/resource-metadata.ts';
import { isLoopback, type SidecarConfig } from './config.ts';
import type { SidecarContext } from './context.ts';
import { createSidecarMetrics } from './observability/metrics.ts';
import { handleRequest } from './pipeline.ts';
import { startFileSource, type PolicySource } from './policy/file-source.ts';
import { PolicyHolder } from './policy/policy-holder.ts';
import { writeJson } from './respond.ts';
import { SessionStore } from './session-store.ts';
import { createHttpUpstream } from './transports/upstream-http.ts';
import { createStdioUpstream } from './transports/upstream-stdio.ts';
import type { Upstream } from './transports/upstream.ts';

/** A running sidecar: the MCP endpoint, the admin endpoint, and what tests need to observe it. */
export interface RunningSidecar {
  readonly url: string;
  readonly adminUrl: string;
  readonly context: SidecarContext;
  readonly source: PolicySource;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly audit?: AuditSink;
  readonly clock?: () => number;
  /** Environment of a spawned stdio server (minimal by default: nothing of ours leaks into it). */
  readonly childEnv?: Readonly<Record<string, string>>;
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
  // Buffered, asynchronous log writes: the hot path never waits on stdout. Flushed on stop.
  const log =
    options.log ??
    pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: false, minLength: 4096 }));
  const clock = options.clock ?? Date.now;
  const metrics = createSidecarMetrics();
  const holder = new PolicyHolder(clock);
  let port = 0;
  const access = createAccess(config, () => port);

  // One authenticator per distinct auth settings, so a policy update that leaves auth alone keeps the
  // key and token caches warm.
  let authenticator: { key: string; value: Authenticator } | undefined;
  const authenticatorFor = (policy: LoadedPolicy): Authenticator => {
    const settings = config.jwksUri
      ? { ...policy.bundle.spec.auth, jwksUri: config.jwksUri }
      : policy.bundle.spec.auth;
    const key = canonicalJson(settings);
    if (authenticator?.key !== key) {
      authenticator?.value.close?.();
      authenticator = { key, value: createAuthenticator(settings, { clock }) };
    }
    return authenticator.value;
  };

  const upstream: Upstream = config.upstreamUrl
    ? createHttpUpstream(config.upstreamUrl)
    : createStdioUpstream(config.upstreamCommand!, {
        log,
        ...(options.childEnv ? { env: options.childEnv } : {}),
      });

  const context: SidecarContext = {
    config,
    access,
    policy: holder,
    authenticatorFor,
    upstream,
    sessions: new SessionStore({ clock }),
    inFlight: new Map(),
    audit: options.audit ?? logAuditSink(log),
    metrics,
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

  const source = startFileSource({
    paths: config.policyFiles,
    ...(config.server ? { server: config.server } : {}),
    holder,
    onError: (message) => {
      metrics.policyErrors.inc();
      log.error({ error: message }, 'policy update refused; the last good policy stays in force');
    },
  });
  await source.ready;

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
  const admin = createServer((request, response) => void serveAdmin(context, request.url ?? '/', response));

  const address = await listen(server, config.listen.host, config.listen.port);
  port = address.port;
  access.refresh();
  const adminAddress = await listen(admin, config.adminListen.host, config.adminListen.port);
  log.info(
    { listen: baseUrl(address), admin: baseUrl(adminAddress), policy: holder.status() },
    'sidecar started',
  );

  return {
    url: `${baseUrl(address)}${access.mcpPath()}`,
    adminUrl: baseUrl(adminAddress),
    context,
    source,
    async stop() {
      source.stop();
      server.closeAllConnections();
      admin.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => admin.close(r))]);
      await upstream.close();
      authenticator?.value.close?.();
      log.flush();
    },
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
    const ready = !('code' in gated);
    const body = JSON.stringify({
      ready,
      policy: context.policy.status(),
      ...(ready ? {} : { reason: gated.reason }),
    });
    return writeJson(response, ready ? 200 : 503, { 'content-type': 'application/json' }, body);
  }
  if (path === '/metrics') {
    const text = await context.metrics.registry.metrics();
    return writeJson(response, 200, { 'content-type': context.metrics.registry.contentType }, text);
  }
  writeJson(response, 404, { 'content-type': 'application/json' }, '{"error":"not found"}');
}
