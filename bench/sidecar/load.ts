import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/**
 * Load generators. Open loop: request i is due at start + i/rate and its latency counts from when it was
 * due, so a slow response delays nothing else and queueing shows up in the tail (no coordinated
 * omission). Closed loop: N callers back to back, for the throughput ceiling.
 */
export interface LatencySummary {
  readonly count: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** When (ms into the run) the slowest 1% were due: clustering here points at stalls, not steady cost. */
  readonly slowestDueAtMs?: readonly number[];
}

export function summarize(latencies: number[], errors: number): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    count: sorted.length,
    errors,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    p999Ms: round(at(0.999)),
    maxMs: round(sorted.at(-1) ?? NaN),
  };
}

export interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

async function callOnce(pool: Pool, path: string, target: Target): Promise<boolean> {
  const response = await pool.request({ path, method: 'POST', headers: target.headers, body: target.body });
  await response.body.text();
  return response.statusCode === 200;
}

export async function openLoop(
  target: Target,
  ratePerSecond: number,
  durationSeconds: number,
): Promise<LatencySummary> {
  const url = new URL(target.url);
  const pool = new Pool(url.origin, { connections: 256, pipelining: 1 });
  const total = Math.round(ratePerSecond * durationSeconds);
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  const due = (i: number) => start + (i * 1000) / ratePerSecond;
  const dueAt: number[] = [];
  let next = 0;
  // Fire everything that is due, then yield to the event loop until the next one is: responses are
  // handled while we wait, and a late timer fires the overdue requests at once (their latency counts
  // from when they were due).
  while (next < total) {
    const now = performance.now();
    while (next < total && due(next) <= now) {
      const scheduled = due(next++);
      inflight.push(
        callOnce(pool, url.pathname, target).then(
          (ok) => {
            if (ok) {
              latencies.push(performance.now() - scheduled);
              dueAt.push(scheduled - start);
            } else errors++;
          },
          () => {
            errors++;
          },
        ),
      );
    }
    if (next < total) await new Promise((r) => setTimeout(r, Math.max(0, due(next) - performance.now())));
  }
  await Promise.all(inflight);
  await pool.close();
  const order = latencies.map((_, i) => i).sort((a, b) => latencies[b]! - latencies[a]!);
  const slowest = order.slice(0, Math.ceil(latencies.length / 100)).map((i) => Math.round(dueAt[i]!));
  return { ...summarize(latencies, errors), slowestDueAtMs: slowest.sort((a, b) => a - b) };
}

export async function closedLoop(
  target: Target,
  concurrency: number,
  durationSeconds: number,
): Promise<{ callsPerSecond: number; errors: number }> {
  const url = new URL(target.url);
  const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1 });
  const end = performance.now() + durationSeconds * 1000;
  let done = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        if (await callOnce(pool, url.pathname, target).catch(() => false)) done++;
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { callsPerSecond: Math.round(done / seconds), errors };
}
