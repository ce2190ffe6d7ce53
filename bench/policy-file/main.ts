// make bench-policy-file: how fast the file-mode kill switch takes effect. A real sidecar process reads its
// policy from a directory (file mode, default 2 s safety poll); the benchmark engages the kill switch
// (the McpServer's portcullis.dev/kill-switch annotation) by rewriting the YAML in place and by
// write-temp-then-rename, TRIALS times each, and times from just before the write to the first refused
// call; then releases it the same way and times the first allowed call. Writes bench/results/policy-file.json.
// Bounded: TRIALS x 2 methods x 2 directions, each trial giving up after TRIAL_TIMEOUT_MS; loopback only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';
import { startJsonServer } from '../../test/fixtures/auth/json-server.ts';
import { jwksOf, signingKey } from '../../test/fixtures/auth/signing-keys.ts';
import { freePort, sleep, summary } from '../operator/stats.ts';
import { echoCall } from '../sidecar/echo-call.ts';

const root = join(import.meta.dirname, '../..');
const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 20);
const TRIAL_TIMEOUT_MS = 5_000;
const TARGET_P99_MS = 100;

type Method = 'inPlace' | 'rename';

const base = await readFile(join(root, 'bench/fixtures/policy/bench.yaml'), 'utf8');
const killedText = base.replace(
  '  name: bench\n  namespace: bench\n',
  `  name: bench\n  namespace: bench\n  annotations:\n    ${KILL_SWITCH}: "true"\n`,
);
if (killedText === base) throw new Error('bench.yaml changed shape: cannot place the kill-switch annotation');

const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-policy-file-'));
const policyDir = join(dir, 'policy');
const policyFile = join(policyDir, 'bench.yaml');
await mkdir(policyDir);
await writeFile(policyFile, base);

function write(method: Method, text: string): void {
  if (method === 'inPlace') {
    writeFileSync(policyFile, text);
  } else {
    // A name the sidecar does not read (*.yaml only), in the same directory so the rename is atomic.
    const staging = join(policyDir, '.bench.yaml.tmp');
    writeFileSync(staging, text);
    renameSync(staging, policyFile);
  }
}

async function firstLine(proc: ChildProcess): Promise<string> {
  for await (const line of createInterface({ input: proc.stdout! })) return line;
  throw new Error('child exited before printing');
}

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(50);
  }
  throw new Error(`not ready: ${url}`);
}

// The responder exits when its stdin closes, so it cannot outlive this process.
const upstream = spawn(process.execPath, ['bench/sidecar/echo-upstream.ts', '0'], {
  cwd: root,
  stdio: ['pipe', 'pipe', 'inherit'],
});
const { port: upstreamPort } = JSON.parse(await firstLine(upstream)) as { port: number };

const key = await signingKey('ES256', 'bench');
const jwks = await startJsonServer();
jwks.serve('/jwks', jwksOf(key));

const { token, body, headers } = await echoCall(key);
const callHeaders = { ...headers, authorization: `Bearer ${token}` };

interface Sidecar {
  readonly url: string;
  stop(): void;
}

async function startSidecar(policy: string): Promise<Sidecar> {
  const port = await freePort();
  const adminPort = await freePort();
  const proc = spawn(
    process.execPath,
    [
      // The compiled artefact an image ships (make build), unless told otherwise.
      process.env['SIDECAR_MAIN'] ?? 'dist/cli/main.js',
      'sidecar',
      '--policy',
      policy,
      '--upstream',
      `http://127.0.0.1:${upstreamPort}/mcp`,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      `127.0.0.1:${adminPort}`,
      '--egress-listen',
      '127.0.0.1:0',
      '--jwks-uri',
      `${jwks.origin}/jwks`,
      '--log-level',
      'warn',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    await waitReady(`http://127.0.0.1:${adminPort}/readyz`);
  } catch (error) {
    proc.kill('SIGTERM');
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/mcp`, stop: () => proc.kill('SIGTERM') };
}

/** One tools/call; 'killed' only for the kill switch's own refusal code. */
async function call(url: string): Promise<'allowed' | 'killed' | 'other'> {
  const response = await fetch(url, { method: 'POST', headers: callHeaders, body });
  const text = await response.text();
  if (response.status === 200) return 'allowed';
  if (response.status === 403 && text.includes('"code":"killed"')) return 'killed';
  if (process.env['BENCH_DEBUG']) console.error(response.status, text.slice(0, 300));
  return 'other';
}

/** Writes, then calls back to back until the wanted answer: ms from just before the write, or undefined. */
async function timeTo(
  url: string,
  method: Method,
  text: string,
  want: 'allowed' | 'killed',
): Promise<number | undefined> {
  const started = performance.now();
  write(method, text);
  while (performance.now() - started < TRIAL_TIMEOUT_MS) {
    if ((await call(url)) === want) return performance.now() - started;
  }
  return undefined;
}

type Outcome = { engage: number[]; release: number[]; missed: number };

/** TRIALS engage/release rounds per write method against one sidecar process. */
async function measure(policy: string): Promise<Record<Method, Outcome>> {
  const results: Record<Method, Outcome> = {
    inPlace: { engage: [], release: [], missed: 0 },
    rename: { engage: [], release: [], missed: 0 },
  };
  await writeFile(policyFile, base);
  const sidecar = await startSidecar(policy);
  try {
    // Warm up (JIT, connection pool, token cache) before the first trial.
    for (let i = 0; i < 200; i++) {
      if ((await call(sidecar.url)) !== 'allowed') throw new Error('warm-up call refused');
    }
    for (let trial = 0; trial < TRIALS; trial++) {
      for (const method of ['inPlace', 'rename'] as const) {
        const outcome = results[method];
        const engage = await timeTo(sidecar.url, method, killedText, 'killed');
        if (engage === undefined) outcome.missed++;
        else outcome.engage.push(engage);
        const release = await timeTo(sidecar.url, method, base, 'allowed');
        if (release === undefined) outcome.missed++;
        else outcome.release.push(release);
        // Spread the writes over the 2 s safety poll's phase, so the poll cannot pass for the watch in
        // every trial alike: 50-350 ms between trials.
        await sleep(50 + Math.random() * 300);
      }
    }
  } finally {
    sidecar.stop();
  }
  return results;
}

const summarise = (results: Record<Method, Outcome>) =>
  Object.fromEntries(
    Object.entries(results).map(([method, outcome]) => [
      method,
      { engage: summary(outcome.engage), release: summary(outcome.release), missed: outcome.missed },
    ]),
  );

// `--policy <dir>` (how the chart and `portcullis dev` configure it) and `--policy <dir>/bench.yaml`
// (one file, the case a watch on the file itself loses at the first rename).
const configurations: Record<string, unknown> = {};
try {
  configurations['directory'] = summarise(await measure(policyDir));
  configurations['file'] = summarise(await measure(policyFile));
} finally {
  upstream.kill('SIGTERM');
  await jwks.close();
  await rm(dir, { recursive: true, force: true });
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const report = {
  benchmark: 'policy-file',
  date: new Date().toISOString(),
  commit,
  node: process.version,
  cpus: cpus().length,
  trials: TRIALS,
  targetP99Ms: TARGET_P99_MS,
  sidecar: process.env['SIDECAR_MAIN'] ?? 'dist/cli/main.js',
  ...configurations,
};
await mkdir(join(root, 'bench/results'), { recursive: true });
await writeFile(join(root, 'bench/results/policy-file.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
