import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { summarize, type LatencySummary, type Target } from './load.ts';

/**
 * The open and closed loops of load.ts, driven by vegeta (bench/sidecar/build-vegeta.sh) instead of this
 * Node process: BENCH_LOAD=vegeta. A Go generator spends a fraction of the CPU per call that undici in the
 * benchmark's own process does, on cores the sidecar shares, and has no multi-millisecond collector pauses,
 * so what the tail shows is more the proxy's and less the generator's. Same definitions: an open-loop
 * call's latency counts from when it was due (vegeta's pacer sends call `seq` at start + seq/rate; a late
 * send counts against the call), the closed loop is N callers back to back.
 */
export class VegetaLoad {
  readonly #binary: string;

  constructor(binary: string) {
    this.#binary = binary;
  }

  async openLoop(target: Target, ratePerSecond: number, durationSeconds: number): Promise<LatencySummary> {
    const results = await this.#attack(target, [
      `-rate=${ratePerSecond}/1s`,
      `-duration=${durationSeconds}s`,
      '-workers=64',
      '-max-connections=256',
    ]);
    if (results.length === 0) return summarize([], 0);
    const intervalNs = 1e9 / ratePerSecond;
    const first = results.reduce((a, b) => (a.seq < b.seq ? a : b));
    const latencies: number[] = [];
    const dueAt: number[] = [];
    let errors = 0;
    for (const result of results) {
      if (!result.ok) {
        errors++;
        continue;
      }
      const dueNs = result.seq * intervalNs;
      const endNs = Number(result.sentNs - first.sentNs) + result.latencyNs;
      latencies.push((endNs - dueNs) / 1e6);
      dueAt.push(dueNs / 1e6);
    }
    const order = latencies.map((_, i) => i).sort((a, b) => latencies[b]! - latencies[a]!);
    const slowest = order.slice(0, Math.ceil(latencies.length / 100)).map((i) => Math.round(dueAt[i]!));
    return { ...summarize(latencies, errors), slowestDueAtMs: slowest.sort((a, b) => a - b) };
  }

  async closedLoop(
    target: Target,
    concurrency: number,
    durationSeconds: number,
  ): Promise<{ callsPerSecond: number; errors: number }> {
    const results = await this.#attack(target, [
      '-rate=0',
      `-workers=${concurrency}`,
      `-max-workers=${concurrency}`,
      `-duration=${durationSeconds}s`,
    ]);
    const ok = results.filter((r) => r.ok);
    if (ok.length === 0) return { callsPerSecond: 0, errors: results.length };
    const start = ok.reduce((a, b) => (a.sentNs < b.sentNs ? a : b)).sentNs;
    // A loop, not Math.max(...): a fast target gives more results than a call may take arguments.
    let endNs = 0;
    for (const r of ok) endNs = Math.max(endNs, Number(r.sentNs - start) + r.latencyNs);
    return { callsPerSecond: Math.round(ok.length / (endNs / 1e9)), errors: results.length - ok.length };
  }

  /** Runs one attack and reads its results back (vegeta's binary results, encoded as JSON lines). */
  async #attack(target: Target, flags: readonly string[]): Promise<VegetaResult[]> {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-vegeta-'));
    const file = join(dir, 'results.bin');
    try {
      const header = Object.fromEntries(Object.entries(target.headers).map(([k, v]) => [k, [v]]));
      const line = JSON.stringify({
        method: 'POST',
        url: target.url,
        header,
        body: Buffer.from(target.body).toString('base64'),
      });
      await run(
        this.#binary,
        ['attack', '-format=json', '-keepalive=true', `-output=${file}`, ...flags],
        `${line}\n`,
      );
      return await readResults(this.#binary, file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

interface VegetaResult {
  readonly seq: number;
  readonly ok: boolean;
  /** When the request was sent, Unix nanoseconds. */
  readonly sentNs: bigint;
  readonly latencyNs: number;
}

async function readResults(binary: string, file: string): Promise<VegetaResult[]> {
  const encoder = spawn(binary, ['encode', '-to=json', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Listened for before reading: the encoder may exit before the last line is consumed.
  const done = exited(encoder, 'vegeta encode');
  const results: VegetaResult[] = [];
  for await (const line of createInterface({ input: encoder.stdout })) {
    if (line === '') continue;
    const hit = JSON.parse(line) as {
      seq: number;
      code: number;
      error: string;
      timestamp: string;
      latency: number;
    };
    results.push({
      seq: hit.seq,
      ok: hit.code === 200 && hit.error === '',
      sentNs: unixNanos(hit.timestamp),
      latencyNs: hit.latency,
    });
  }
  await done;
  return results;
}

/** An RFC 3339 timestamp with up to nine fraction digits as Unix nanoseconds (Date keeps milliseconds only). */
function unixNanos(timestamp: string): bigint {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(timestamp);
  if (match === null) throw new Error(`vegeta: unexpected timestamp ${timestamp}`);
  const seconds = Date.parse(`${match[1]}${match[3]}`) / 1000;
  return BigInt(seconds) * 1_000_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

async function run(binary: string, args: readonly string[], stdin: string): Promise<void> {
  const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = exited(child, `vegeta ${args[0]}`);
  child.stdin.end(stdin);
  await done;
}

function exited(child: ReturnType<typeof spawn>, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`))));
  });
}
