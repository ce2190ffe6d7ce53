import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_SCOPES, type DemoAgent, type DemoUser } from '../cast.ts';
import { collectorToken, signIn, type IdentityEndpoint } from '../identity/sign-in.ts';
import { startChild, type StackChild } from './child.ts';
import { StackError } from './errors.ts';
import { assertPortsFree, type StackPorts } from './ports.ts';
import { readServedServer, type ServedServer } from './served-server.ts';
import { answers, waitUntilReady } from './wait.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** `portcullis` from this checkout: the stack runs exactly the command a pod runs. */
export const CLI_MAIN = join(repoRoot, 'cli/main.ts');
const IDENTITY_MAIN = join(repoRoot, 'demo/identity/main.ts');
const BILLING_MAIN = join(repoRoot, 'demo/billing-server/main.ts');

export interface StackOptions {
  /** The Node binary the processes run on. */
  readonly nodePath: string;
  /** The McpServer (exactly one) and ToolPolicies the sidecar serves, hot-reloaded. */
  readonly policyDir: string;
  /** An existing directory for the audit WAL, the SQLite store, credentials and logs. */
  readonly workDir: string;
  readonly ports: StackPorts;
  /** Lifetime of the tokens the identity provider issues. */
  readonly tokenTtlSeconds: number;
  /** The environment of every process (PATH, HOME). */
  readonly env: Readonly<Record<string, string>>;
  /** How long each process may take to become ready (default 30 s). */
  readonly readyTimeoutMs?: number;
}

/** The running stack: an identity provider, the billing MCP server, the collector and the sidecar. */
export interface DemoStack {
  readonly server: ServedServer;
  /** The sidecar's MCP endpoint: the only way to the billing server. */
  readonly mcpUrl: string;
  readonly sidecarAdminUrl: string;
  readonly collectorUrl: string;
  readonly identity: IdentityEndpoint;
  readonly children: readonly StackChild[];
  /** Settles when a process exits while the stack is meant to run. */
  readonly crashed: Promise<StackError>;
  /** An access token for the MCP server: `agent` signs `user` in at the identity provider. */
  token(user: DemoUser, agent: DemoAgent): Promise<string>;
  /** Sidecar first (it drains its audit log into the collector), then the collector, then the rest. */
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<DemoStack> {
  const server = readServedServer(options.policyDir);
  const { ports } = options;
  await assertPortsFree(ports);
  const loopback = (port: number) => `http://127.0.0.1:${port}`;
  const identity: IdentityEndpoint = { url: loopback(ports.identity), issuer: server.issuer };
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const started: StackChild[] = [];
  let stopping = false;
  let reportCrash: (error: StackError) => void = () => {};
  const crashed = new Promise<StackError>((resolve) => (reportCrash = resolve));

  const start = (name: string, args: readonly string[], graceSeconds = 5) => {
    const child = startChild({
      name,
      command: options.nodePath,
      args,
      logPath: join(options.workDir, `${name}.log`),
      env: options.env,
      graceSeconds,
    });
    started.push(child);
    void child.exited.then((exit) => {
      if (!stopping)
        reportCrash(
          new StackError(
            'crashed',
            `${name} exited (code ${exit.code ?? exit.signal}); see ${child.logPath}`,
            child.logPath,
          ),
        );
    });
    return child;
  };

  const stop = async () => {
    stopping = true;
    const [sidecar, collector, ...rest] = [...started].sort((a, b) => stopRank(a.name) - stopRank(b.name));
    for (const child of [sidecar, collector]) await child?.stop();
    await Promise.all(rest.map((child) => child.stop()));
  };

  try {
    const identityChild = start('identity', [
      IDENTITY_MAIN,
      '--listen',
      `127.0.0.1:${ports.identity}`,
      '--issuer',
      server.issuer,
      '--resource',
      server.audience,
      '--server',
      `${server.namespace}/${server.name}`,
      '--token-ttl',
      String(options.tokenTtlSeconds),
    ]);
    const billing = start('billing-server', [BILLING_MAIN, '--listen', `127.0.0.1:${ports.billing}`]);
    // oidc-provider serves its keys at /jwks; the collector and the sidecar fetch them from where it listens.
    const jwks = `${identity.url}/jwks`;
    const collector = start('collector', [
      CLI_MAIN,
      'collector',
      '--listen',
      `127.0.0.1:${ports.collector}`,
      '--metrics-listen',
      `127.0.0.1:${ports.collectorMetrics}`,
      '--store',
      'sqlite',
      '--sqlite-path',
      join(options.workDir, 'audit.db'),
      '--auth',
      'jwks',
      '--jwks-url',
      jwks,
      '--issuer',
      server.issuer,
      '--query-auth',
      'none',
      '--log-level',
      'warn',
    ]);
    await Promise.all([
      waitUntilReady(
        identityChild,
        answers(`${identity.url}/.well-known/openid-configuration`),
        readyTimeoutMs,
      ),
      // A stateless server answers GET with 405: listening is all that is asked.
      waitUntilReady(billing, answers(`${loopback(ports.billing)}/mcp`, [405]), readyTimeoutMs),
      waitUntilReady(collector, answers(`${loopback(ports.collectorMetrics)}/readyz`), readyTimeoutMs),
    ]);

    // On a cluster the kubelet mounts this token; the sidecar re-reads the file for every batch.
    const tokenFile = join(options.workDir, 'collector.token');
    writeFileSync(tokenFile, await collectorToken(identity, server), { mode: 0o600 });
    const sidecar = start(
      'sidecar',
      [
        CLI_MAIN,
        'sidecar',
        '--policy',
        options.policyDir,
        '--upstream',
        `${loopback(ports.billing)}/mcp`,
        '--listen',
        `127.0.0.1:${ports.mcp}`,
        '--admin-listen',
        `127.0.0.1:${ports.sidecarAdmin}`,
        '--egress-listen',
        `127.0.0.1:${ports.egress}`,
        '--jwks-uri',
        jwks,
        '--audit-wal',
        join(options.workDir, 'wal'),
        '--collector-url',
        loopback(ports.collector),
        '--collector-token-file',
        tokenFile,
        '--pod-name',
        `${server.name}-demo`,
        '--log-level',
        'warn',
      ],
      // The sidecar drains its WAL for up to 5 s on SIGTERM.
      10,
    );
    await waitUntilReady(sidecar, answers(`${loopback(ports.sidecarAdmin)}/readyz`), readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    server,
    mcpUrl: `${loopback(ports.mcp)}${server.path}`,
    sidecarAdminUrl: loopback(ports.sidecarAdmin),
    collectorUrl: loopback(ports.collector),
    identity,
    children: started,
    crashed,
    async token(user, agent) {
      try {
        return await signIn(identity, { user, agent, resource: server.audience, scopes: ALL_SCOPES });
      } catch (error) {
        throw new StackError(
          'sign_in_failed',
          `${agent.id} could not sign ${user.id} in: ${(error as Error).message}`,
        );
      }
    },
    stop,
  };
}

function stopRank(name: string): number {
  return name === 'sidecar' ? 0 : name === 'collector' ? 1 : 2;
}
