import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * ToolHive's transparent proxy (`thv proxy`, Go), the peer issue #14's table compares the sidecar with,
 * built from the Go module proxy (build-toolhive.sh) and run in front of the same upstream.
 *
 * With `tokens`, it checks each call's token as the sidecar does: signature against the JWKS, issuer,
 * audience, expiry. It has no per-tool rule in either form (per-tool authorization lives in `thv run`, which
 * needs a container runtime), so even with tokens it does less per call than the sidecar.
 *
 * Its JWKS must be at an address it calls public: it refuses loopback, private and documentation ranges, and
 * offers no flag to allow them. So the JWKS is served from a network namespace this benchmark creates, behind
 * a veth pair with addresses from 198.18.0.0/15, the range RFC 2544 sets aside for benchmarks: the traffic
 * stays on the pair. `INSECURE_DISABLE_URL_VALIDATION` lets it fetch over plain http.
 */
export interface PeerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

export interface PeerTokens {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks: unknown;
}

/** BENCH_TOOLHIVE names another `thv` binary; otherwise build-toolhive.sh builds (once) and names it. */
export function toolhiveBinary(): string {
  return (
    process.env['BENCH_TOOLHIVE'] ??
    execFileSync('bench/sidecar/build-toolhive.sh', {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim()
  );
}

const NAMESPACE = 'portcullis-bench-jwks';
const HOST_END = { link: 'pcb-jwks0', address: '198.18.0.1/30' };
const JWKS_END = { link: 'pcb-jwks1', address: '198.18.0.2/30', ip: '198.18.0.2', port: 8080 };

/** Serves `jwks` from its own network namespace; resolves with its URL and how to take it all down. */
async function jwksInNamespace(jwks: unknown): Promise<{ url: string; close(): void }> {
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const removeNamespace = () => {
    // Deleting the namespace deletes the veth pair with it.
    execFileSync('ip', ['netns', 'del', NAMESPACE], { stdio: 'ignore' });
  };
  try {
    removeNamespace(); // a run that was killed may have left one
  } catch {
    // none there
  }
  ip('netns', 'add', NAMESPACE);
  ip('link', 'add', HOST_END.link, 'type', 'veth', 'peer', 'name', JWKS_END.link);
  ip('link', 'set', JWKS_END.link, 'netns', NAMESPACE);
  ip('addr', 'add', HOST_END.address, 'dev', HOST_END.link);
  ip('link', 'set', HOST_END.link, 'up');
  ip('netns', 'exec', NAMESPACE, 'ip', 'addr', 'add', JWKS_END.address, 'dev', JWKS_END.link);
  ip('netns', 'exec', NAMESPACE, 'ip', 'link', 'set', JWKS_END.link, 'up');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-jwks-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      NAMESPACE,
      'python3',
      '-m',
      'http.server',
      String(JWKS_END.port),
      '--bind',
      JWKS_END.ip,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const url = `http://${JWKS_END.ip}:${JWKS_END.port}/jwks.json`;
  const close = () => {
    server.kill('SIGKILL');
    removeNamespace();
    rmSync(dir, { recursive: true, force: true });
  };
  if (await answers(url, 'GET')) return { url, close };
  close();
  throw new Error('the JWKS server in its namespace did not answer within 10 s');
}

/** True once `url` gives any HTTP answer, false after 10 s. */
async function answers(url: string, method: 'GET' | 'POST', exited = () => false): Promise<boolean> {
  for (let attempt = 0; attempt < 200 && !exited(); attempt++) {
    const answered = await fetch(url, { method, ...(method === 'POST' ? { body: '{}' } : {}) }).then(
      () => true,
      () => false,
    );
    if (answered) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

export async function startToolhivePeer(
  binary: string,
  upstreamOrigin: string,
  port: number,
  tokens?: PeerTokens,
): Promise<PeerProcess> {
  // The JWKS is served before the proxy starts: it fetches it once at start, and "not ready" after a miss.
  const checking = tokens && { ...tokens, ...(await jwksInNamespace(tokens.jwks)) };
  const tokenArgs = checking
    ? [
        '--oidc-issuer',
        checking.issuer,
        '--oidc-audience',
        checking.audience,
        '--oidc-jwks-url',
        checking.url,
      ]
    : [];
  // Its config and state in a directory of its own, not the user's.
  const home = mkdtempSync(join(tmpdir(), 'portcullis-bench-toolhive-'));
  const proc: ChildProcess = spawn(
    binary,
    [
      'proxy',
      'bench',
      '--target-uri',
      upstreamOrigin,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      ...tokenArgs,
    ],
    {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: home,
        // It checks for a container runtime before any command, even one that runs none.
        TOOLHIVE_RUNTIME: 'kubernetes',
        // Nothing leaves the machine: no update check, no usage metrics.
        TOOLHIVE_SKIP_UPDATE_CHECK: 'true',
        TOOLHIVE_USAGE_METRICS_ENABLED: 'false',
        ...(tokens ? { INSECURE_DISABLE_URL_VALIDATION: 'true' } : {}),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const end = (signal: NodeJS.Signals) => {
    proc.kill(signal);
    checking?.close();
    rmSync(home, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}/mcp`;
  if (await answers(url, 'POST', () => proc.exitCode !== null))
    return { url, pid: proc.pid!, stop: () => end('SIGTERM') };
  end('SIGKILL');
  throw new Error(`thv proxy did not answer within 10 s (exit code ${proc.exitCode})`);
}
