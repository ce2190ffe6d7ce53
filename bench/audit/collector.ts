/**
 * A real collector for the audit benchmarks, without a Kubernetes API server: `--auth jwks` against a JWKS
 * on loopback (`--jwks-url`, `--issuer`), the way a cluster whose service-account issuer publishes its keys
 * is set up, and `--query-auth none` (loopback only). Sidecar tokens are shaped like projected
 * service-account tokens (sub `system:serviceaccount:<ns>/<server>-mcp`, a `kubernetes.io` claim naming the
 * account and the pod, audience portcullis-collector) and signed with the key that JWKS publishes.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COLLECTOR_AUDIENCE, sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';
import { startJsonServer, type JsonServer } from '../../test/fixtures/auth/json-server.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../../test/fixtures/auth/signing-keys.ts';
import { CLI_MAIN, freePort, spawnChild, waitReady, type Child } from './support.ts';

export const SA_ISSUER = 'https://kubernetes.default.svc.bench.invalid';

export interface ServiceAccountIssuer {
  readonly jwksUrl: string;
  /** A projected token of the sidecar of McpServer namespace/server, audience the collector's. */
  sidecarToken(namespace: string, server: string): Promise<string>;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<ServiceAccountIssuer> {
  const key: SigningKey = await signingKey('ES256', 'bench-sa');
  const server: JsonServer = await startJsonServer();
  server.serve('/openid/v1/jwks', jwksOf(key));
  return {
    jwksUrl: `${server.origin}/openid/v1/jwks`,
    async sidecarToken(namespace, name) {
      const account = sidecarServiceAccountName(name);
      const now = Math.floor(Date.now() / 1000);
      return signToken(
        key,
        {
          iss: SA_ISSUER,
          aud: [COLLECTOR_AUDIENCE],
          sub: `system:serviceaccount:${namespace}:${account}`,
          iat: now,
          nbf: now,
          exp: now + 3600,
          'kubernetes.io': {
            namespace,
            serviceaccount: { name: account, uid: randomUUID() },
            pod: { name: `${name}-bench`, uid: randomUUID() },
          },
        },
        { typ: 'JWT' },
      );
    },
    close: () => server.close(),
  };
}

/** The sidecar arguments that write the audit to a WAL in `walDir` and ship it to `collector`. */
export function sidecarWalArgs(
  walDir: string,
  collector: { readonly url: string },
  tokenFile: string,
  podName: string,
): string[] {
  return [
    '--audit-wal',
    walDir,
    '--collector-url',
    collector.url,
    '--collector-token-file',
    tokenFile,
    '--pod-name',
    podName,
  ];
}

export interface CollectorProcess {
  readonly url: string;
  readonly metricsUrl: string;
  readonly child: Child;
  readonly dir: string;
  /** Stops the collector and removes its directory (the SQLite file). */
  stop(): Promise<void>;
}

/**
 * `portcullis collector` as its own process (`cpus`: pinned), SQLite in a new temporary directory unless
 * `postgresUrl` is given. Logs at warn: the collector logs nothing per batch at info either, but warn keeps
 * the start-up lines out of the way.
 */
export async function startCollectorProcess(
  issuer: ServiceAccountIssuer,
  options: { cpus?: string; postgresUrl?: string; nodeFlags?: readonly string[]; main?: string } = {},
): Promise<CollectorProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-collector-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const store = options.postgresUrl
    ? ['--store', 'postgres', '--postgres-url-file', join(dir, 'postgres-url')]
    : ['--store', 'sqlite', '--sqlite-path', join(dir, 'audit.db')];
  if (options.postgresUrl) await writeFile(join(dir, 'postgres-url'), options.postgresUrl, { mode: 0o600 });
  const child = spawnChild(
    'collector',
    process.execPath,
    [
      ...(options.nodeFlags ?? []),
      options.main ?? CLI_MAIN,
      'collector',
      '--listen',
      `127.0.0.1:${port}`,
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      ...store,
      '--auth',
      'jwks',
      '--jwks-url',
      issuer.jwksUrl,
      '--issuer',
      SA_ISSUER,
      '--query-auth',
      'none',
      '--log-level',
      'warn',
    ],
    options.cpus ? { cpus: options.cpus } : {},
  );
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  try {
    await waitReady(`${metricsUrl}/readyz`, child);
  } catch (error) {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    metricsUrl,
    child,
    dir,
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
