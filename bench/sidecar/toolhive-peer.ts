import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * ToolHive's transparent proxy (`thv proxy`, Go), the peer issue #14's table compares the sidecar with,
 * built from the Go module proxy (build-toolhive.sh) and run in front of the same upstream.
 *
 * What it does per call is less than the sidecar: no token check and no per-tool rule. Its proxy command
 * validates tokens only against a JWKS on a public HTTPS address (it refuses loopback and plain http, and
 * offers no flag to allow them), and per-tool authorization lives in `thv run`, which needs a container
 * runtime. So this is the Go peer's hop as a lower bound: what its runtime and proxy cost on this machine,
 * in the same run as the sidecar and the Node floor.
 */
export interface PeerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): void;
}

export function toolhiveBinary(): string {
  return (
    process.env['BENCH_TOOLHIVE'] ??
    execFileSync('bench/sidecar/build-toolhive.sh', {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim()
  );
}

export async function startToolhivePeer(
  binary: string,
  upstreamOrigin: string,
  port: number,
): Promise<PeerProcess> {
  const proc: ChildProcess = spawn(
    binary,
    ['proxy', 'bench', '--target-uri', upstreamOrigin, '--host', '127.0.0.1', '--port', String(port)],
    {
      env: {
        PATH: process.env['PATH'] ?? '',
        // Its config and state in a directory of its own, not the user's.
        HOME: mkdtempSync(join(tmpdir(), 'portcullis-bench-toolhive-')),
        // It checks for a container runtime before any command, even one that runs none.
        TOOLHIVE_RUNTIME: 'kubernetes',
        // Nothing leaves the machine: no update check, no usage metrics.
        TOOLHIVE_SKIP_UPDATE_CHECK: 'true',
        TOOLHIVE_USAGE_METRICS_ENABLED: 'false',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}/mcp`;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.exitCode !== null) throw new Error(`thv proxy exited with ${proc.exitCode} before it was ready`);
    const answered = await fetch(url, { method: 'POST', body: '{}' }).then(
      () => true,
      () => false,
    );
    if (answered) return { url, pid: proc.pid!, stop: () => proc.kill('SIGTERM') };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  proc.kill('SIGKILL');
  throw new Error('thv proxy did not answer within 10 s');
}
