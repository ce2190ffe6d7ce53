import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import packageJson from '../package.json' with { type: 'json' };
import { buildLogFields, type BuildInfo } from '../lib/build-info.ts';
import { cachedAuthenticator, type TokenAuthenticator } from './auth/authenticator.ts';
import { jwksAuthenticator } from './auth/jwks.ts';
import { apiServerKeys, discoverIssuer, urlKeys } from './auth/key-sources.ts';
import { tokenReviewAuthenticator } from './auth/token-review.ts';
import { isLoopback, type CollectorConfig } from './config.ts';
import { writeJson } from './errors.ts';
import type { EventExporter } from './export/exporter.ts';
import { otlpExporter } from './export/otlp.ts';
import { startExportPump, type ExportPump } from './export/pump.ts';
import { stdoutExporter } from './export/stdout.ts';
import { Router } from './http/router.ts';
import { SidecarOwners } from './ingest/sidecar-owners.ts';
import { createCollectorMetrics, type CollectorMetrics } from './metrics.ts';
import { startMonitor } from './monitor/monitor.ts';
import { openStore } from './open-store.ts';
import { kubernetesQueryAuthorizer, openQueryAuthorizer, type QueryAuthorizer } from './query/authorize.ts';
import { ByteBudget } from './http/byte-budget.ts';
import { startRetention } from './retention.ts';
import { storeCall } from './store-call.ts';
import { loadServingCertificate, watchServingCertificate, type CertificateWatch } from './tls.ts';
import type { AuditStore } from './store/store.ts';

export interface StartOptions {
  /** The store to use (the caller closes it); default: the one the configuration names (closed on stop). */
  readonly store?: AuditStore;
  /** Credentials for TokenReview, SubjectAccessReview and the JWKS; default: --kubeconfig, else in-cluster. */
  readonly kube?: KubeConfig;
  readonly log?: Logger;
  /** The version and commit, for the start-up log line (what a bug report needs first). */
  readonly build?: BuildInfo;
  readonly clock?: () => number;
  /** Where the stdout exporter writes (the CLI: standard output); required with --export stdout. */
  readonly stdout?: (text: string) => Promise<void> | void;
  readonly exportBackoff?: { readonly baseMs: number; readonly maxMs: number };
  /** How often the TLS files are re-read (default 1 s). */
  readonly tlsReloadIntervalMs?: number;
}

export interface RunningCollector {
  /** Ingest and query, e.g. http://127.0.0.1:8080 (https:// with --tls-cert-file). */
  readonly url: string;
  /** /metrics, /healthz, /readyz. */
  readonly metricsUrl: string;
  readonly store: AuditStore;
  readonly metrics: CollectorMetrics;
  /** Stops accepting, answers in-flight requests, stops exports and monitors, closes the store it opened. */
  stop(): Promise<void>;
}

export class CollectorConfigError extends Error {
  readonly code = 'invalid_config';
}

/** The collector, assembled in one readable place: auth, store, ingest and query, monitors, exports. */
export async function startCollector(
  config: CollectorConfig,
  options: StartOptions = {},
): Promise<RunningCollector> {
  const clock = options.clock ?? Date.now;
  const log =
    options.log ??
    pino(
      { level: config.logLevel },
      pino.destination({ dest: config.export.includes('stdout') ? 2 : 1, sync: false }),
    );
  let kube = options.kube;
  const kubeConfig = () => (kube ??= loadKubeConfig(config.kubeconfig));
  // A certificate that does not load is a configuration error: found before anything is opened.
  const tlsFiles =
    config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
      ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
      : undefined;
  const certificate = tlsFiles ? await loadServingCertificate(tlsFiles) : undefined;

  const metrics = createCollectorMetrics();
  const sidecarAuthenticator = cachedAuthenticator(
    await createSidecarAuthenticator(config, kubeConfig, clock),
    {
      ttlMs: config.authCacheMs,
      maxEntries: 10_000,
      clock,
      requireJwt: true,
      onVerified: (result) => metrics.tokenVerifications.inc({ purpose: 'ingest', result }),
    },
  );
  const queryAuthorizer: QueryAuthorizer =
    config.queryAuth === 'none'
      ? openQueryAuthorizer
      : kubernetesQueryAuthorizer({
          kube: kubeConfig(),
          authenticator: cachedAuthenticator(tokenReviewAuthenticator(kubeConfig()), {
            ttlMs: config.authCacheMs,
            maxEntries: 4096,
            clock,
            onVerified: (result) => metrics.tokenVerifications.inc({ purpose: 'query', result }),
          }),
          clock,
        });

  const exporters = config.export.map((name): EventExporter => {
    if (name === 'stdout') {
      if (options.stdout === undefined)
        throw new CollectorConfigError('--export stdout needs somewhere to write');
      return stdoutExporter(options.stdout);
    }
    return otlpExporter({
      endpoint: config.otlpEndpoint!,
      serviceVersion: packageJson.version,
      clock,
      onRejected: (count, message) =>
        log.error({ exporter: 'otlp', count, message }, 'export: the OTLP destination rejected records'),
    });
  });
  const store =
    options.store ?? (await openStore(config, { onLockWait: () => metrics.storeLockWaits.inc() }));
  const ownsStore = options.store === undefined;
  const pumps: ExportPump[] = exporters.map((exporter) =>
    startExportPump({
      store,
      exporter,
      metrics,
      log,
      ...(options.exportBackoff ? { backoff: options.exportBackoff } : {}),
    }),
  );

  const budget = new ByteBudget(config.maxInflightBytes);
  const router = new Router({
    ingest: {
      store,
      authenticator: sidecarAuthenticator,
      owners: new SidecarOwners({
        load: () => storeCall(metrics, 'sidecars', () => store.sidecars()),
        clock,
      }),
      metrics,
      maxBatchBytes: config.maxBatchBytes,
      budget,
      retentionMs: config.retentionMs,
      clock,
      onStored: () => pumps.forEach((pump) => pump.wake()),
    },
    query: { store, authorizer: queryAuthorizer, metrics, budget },
    metrics,
    log,
    clock,
  });
  const monitor = startMonitor({
    store,
    metrics,
    log,
    clock,
    intervalMs: config.monitorIntervalMs,
    graceMs: config.gapGraceMs,
    exporters: config.export,
  });
  const retention = startRetention({ store, retentionMs: config.retentionMs, metrics, log, clock });

  const serverOptions = { keepAliveTimeout: 65_000, requestTimeout: 60_000 };
  const server: Server = certificate
    ? createHttpsServer(
        { ...serverOptions, cert: certificate.cert, key: certificate.key, minVersion: 'TLSv1.2' },
        router.listener,
      )
    : createServer(serverOptions, router.listener);
  let certificateWatch: CertificateWatch | undefined;
  if (certificate && tlsFiles) {
    const tlsServer = server as ReturnType<typeof createHttpsServer>;
    const expiry = metrics.tlsCertificateExpiry;
    metrics.registry.registerMetric(expiry);
    expiry.set(Date.parse(certificate.notAfter) / 1000);
    certificateWatch = watchServingCertificate({
      ...tlsFiles,
      current: certificate,
      intervalMs: options.tlsReloadIntervalMs ?? 1_000,
      onChange: (next) => {
        // New connections get the new pair; open ones keep theirs (nothing is dropped).
        tlsServer.setSecureContext({ cert: next.cert, key: next.key });
        // After the install: the gauge tells what new connections are served, which alerts are about.
        expiry.set(Date.parse(next.notAfter) / 1000);
        log.info({ fingerprint: next.fingerprint, notAfter: next.notAfter }, 'TLS certificate reloaded');
      },
      onInvalid: (error) =>
        log.error(
          { err: error },
          'TLS files changed but do not load; still serving the previous certificate',
        ),
    });
  }
  const ready = readiness(store, clock);
  const admin = createServer((request, response) => {
    const path = request.url?.split('?', 1)[0];
    if (path === '/metrics') {
      void metrics.registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
    } else if (path === '/healthz') writeJson(response, 200, { status: 'ok' });
    else if (path === '/readyz') {
      void ready().then((failure) =>
        writeJson(
          response,
          failure ? 503 : 200,
          failure ? { ready: false, reason: failure } : { ready: true },
        ),
      );
    } else writeJson(response, 404, { error: { code: 'not_found', message: 'not found' } });
  });

  let address: AddressInfo;
  let adminAddress: AddressInfo;
  try {
    address = await listen(server, config.listen.host, config.listen.port);
    adminAddress = await listen(admin, config.metricsListen.host, config.metricsListen.port);
  } catch (error) {
    certificateWatch?.stop();
    await Promise.all([...pumps.map((p) => p.stop()), monitor.stop(), retention.stop()]);
    server.close();
    admin.close();
    if (ownsStore) await store.close();
    throw error;
  }
  const url = baseUrl(address, certificate ? 'https' : 'http');
  if (!certificate && !isLoopback(address.address))
    log.warn(
      { listen: url },
      'serving plain HTTP beyond loopback: sidecars refuse it unless --collector-plaintext; set --tls-cert-file and --tls-key-file',
    );
  log.info(
    {
      ...(options.build ? buildLogFields(options.build) : {}),
      listen: url,
      metrics: baseUrl(adminAddress),
      tls: certificate ? { fingerprint: certificate.fingerprint, notAfter: certificate.notAfter } : false,
      store: config.store,
      auth: config.auth,
      queryAuth: config.queryAuth,
      export: config.export,
    },
    'collector started',
  );

  let stopping: Promise<void> | undefined;
  return {
    url,
    metricsUrl: baseUrl(adminAddress),
    store,
    metrics,
    stop() {
      stopping ??= (async () => {
        // New connections are refused at once; requests in flight (a batch being stored) get their answer.
        certificateWatch?.stop();
        const closed = new Promise((resolve) => server.close(resolve));
        server.closeIdleConnections();
        await withTimeout(router.drain(), config.shutdownTimeoutMs);
        server.closeAllConnections();
        await closed;
        await withTimeout(Promise.all(pumps.map((pump) => pump.stop())), config.shutdownTimeoutMs);
        await Promise.all([monitor.stop(), retention.stop()]);
        if (ownsStore) await store.close();
        sidecarAuthenticator.close?.();
        admin.closeAllConnections();
        await new Promise((resolve) => admin.close(resolve));
        log.info({}, 'collector stopped');
        log.flush();
      })();
      return stopping;
    },
  };
}

async function createSidecarAuthenticator(
  config: CollectorConfig,
  kube: () => KubeConfig,
  clock: () => number,
): Promise<TokenAuthenticator> {
  if (config.auth === 'tokenreview') return tokenReviewAuthenticator(kube(), [config.audience]);
  let issuer = config.issuer;
  if (issuer === undefined) {
    try {
      issuer = await discoverIssuer(kube());
    } catch (error) {
      throw new Error(
        `--auth jwks: cannot learn the service-account issuer: ${(error as Error).message}; set --issuer`,
        { cause: error },
      );
    }
  }
  return jwksAuthenticator({
    issuer,
    audience: config.audience,
    keys: config.jwksUrl ? urlKeys(config.jwksUrl) : apiServerKeys(kube(), { clock }),
    clock,
  });
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kube = new KubeConfig();
  if (path) kube.loadFromFile(path);
  else kube.loadFromDefault();
  return kube;
}

/** Ready while the store answers a cheap query (checked at most once a second, 2 s to answer). */
function readiness(store: AuditStore, clock: () => number): () => Promise<string | undefined> {
  let checkedAt = Number.NEGATIVE_INFINITY;
  let last: Promise<string | undefined> = Promise.resolve('not checked yet');
  return () => {
    if (clock() - checkedAt < 1_000) return last;
    checkedAt = clock();
    last = withTimeout(
      store.query({ order: 'desc', limit: 1 }).then(() => undefined),
      2_000,
    ).then(
      (result) => (result === TIMED_OUT ? 'the store did not answer within 2 s' : undefined),
      (error: unknown) => `the store is unavailable: ${(error as Error).message}`,
    );
    return last;
  };
}

const TIMED_OUT = Symbol('timed out');

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>(
    (resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)),
  );
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

const baseUrl = (address: AddressInfo, scheme: 'http' | 'https' = 'http') =>
  `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
