// make bench-sidecar: the sidecar's added latency (proxied minus direct, same offered open-loop rate,
// ~1 KB tools/call, token cached), its throughput ceiling with auth + policy + audit on, and its RSS.
// Writes bench/results/sidecar.json. Every loop is bounded in count and time; traffic stays on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jwksOf, signingKey, signToken } from '../../test/fixtures/auth/signing-keys.ts';
import { startJsonServer } from '../../test/fixtures/auth/json-server.ts';
import { closedLoop, openLoop, type Target } from './load.ts';

const root = join(import.meta.dirname, '../..');
const RATE = Number(process.env['BENCH_RATE'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const THROUGHPUT_SECONDS = Number(process.env['BENCH_THROUGHPUT_SECONDS'] ?? 8);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function child(args: string[]): ChildProcess {
  return spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
}

async function firstLine(proc: ChildProcess): Promise<string> {
  const lines = createInterface({ input: proc.stdout! });
  for await (const line of lines) return line;
  throw new Error('child exited before printing');
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready: ${url}`);
}

async function rssOf(pid: number): Promise<{ rssMiB: number; peakRssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMiB: Math.round(kib('VmRSS') / 102.4) / 10, peakRssMiB: Math.round(kib('VmHWM') / 102.4) / 10 };
}

const upstream = child(['bench/sidecar/echo-upstream.ts', '0']);
const { port: upstreamPort } = JSON.parse(await firstLine(upstream)) as { port: number };
const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;

const key = await signingKey('ES256', 'bench');
const jwks = await startJsonServer();
jwks.serve('/jwks', jwksOf(key));
/** One sidecar process per Node configuration: the default, and heap limits sized for a 64-128 MiB pod. */
const CONFIGURATIONS: Record<string, string[]> = {
  default: [],
  'memory-capped': ['--max-semi-space-size=4', '--max-old-space-size=96'],
};

async function startSidecarProcess(nodeFlags: string[]): Promise<{ url: string; pid: number; stop(): void }> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      // The compiled artefact an image ships (make build), unless told otherwise.
      process.env['SIDECAR_MAIN'] ?? 'dist/cli/main.js',
      'sidecar',
      '--policy',
      'bench/fixtures/policy',
      '--upstream',
      upstreamUrl,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      `127.0.0.1:${adminPort}`,
      // Sidecars start back to back: an ephemeral egress port, not the fixed default, avoids a clash.
      '--egress-listen',
      '127.0.0.1:0',
      '--jwks-uri',
      `${jwks.origin}/jwks`,
      '--log-level',
      'info',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitReady(`http://127.0.0.1:${adminPort}/readyz`);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: proc.pid!, stop: () => proc.kill('SIGTERM') };
}

const now = Math.floor(Date.now() / 1000);
const token = await signToken(key, {
  iss: 'https://id.example.com/bench',
  aud: 'https://bench.mcp.example.com/mcp',
  sub: 'bench-user',
  client_id: 'bench-agent',
  tenant_id: 'acme',
  scope: 'bench',
  iat: now,
  exp: now + 3600,
});
const body = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { tenant: 'acme', payload: 'x'.repeat(900) } },
});
const headers = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};
const direct: Target = { url: upstreamUrl, headers, body };

const runs: Record<string, unknown> = {};
for (const [name, nodeFlags] of Object.entries(CONFIGURATIONS)) {
  const sidecar = await startSidecarProcess(nodeFlags);
  const proxied: Target = {
    url: sidecar.url,
    headers: { ...headers, authorization: `Bearer ${token}` },
    body,
  };
  // Warm up both paths (JIT, connection pools, token cache), then measure them back to back.
  await openLoop(direct, RATE, 2);
  await openLoop(proxied, RATE, 2);
  const directRun = await openLoop(direct, RATE, SECONDS);
  const proxiedLatency = await openLoop(proxied, RATE, SECONDS);
  const throughput = await closedLoop(proxied, CONCURRENCY, THROUGHPUT_SECONDS);
  const memory = await rssOf(sidecar.pid);
  sidecar.stop();
  const added = (q: 'p50Ms' | 'p99Ms' | 'p999Ms') =>
    Math.round((proxiedLatency[q] - directRun[q]) * 1000) / 1000;
  runs[name] = {
    nodeFlags,
    direct: directRun,
    proxied: proxiedLatency,
    addedLatencyMs: { p50: added('p50Ms'), p99: added('p99Ms'), p999: added('p999Ms') },
    throughput: { callsPerSecond: throughput.callsPerSecond, errors: throughput.errors },
    sidecarMemory: memory,
  };
}

const results = {
  benchmark: 'sidecar',
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  settings: {
    offeredRatePerSecond: RATE,
    seconds: SECONDS,
    requestBytes: Buffer.byteLength(body),
    throughputConcurrency: CONCURRENCY,
  },
  note: 'added latency = proxied minus direct at the same offered open-loop rate, measured back to back; throughput is one sidecar process (one event loop) while the load generator and upstream share the 2 cores',
  runs,
  targets: { addedP50Ms: 0.3, addedP99Ms: 1.5, callsPerSecondPerCore: 8000, rssMiB: 64 },
};
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/sidecar.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));

upstream.stdin!.end();
await jwks.close();
