/**
 * Shared pieces of `make bench-audit`: child processes, readiness, CPU time of processes and of the
 * machine (to tell our load from other people's on a shared machine), Prometheus text, and a bounded
 * sampler of the load average.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

export const root = join(import.meta.dirname, '../..');
const run = promisify(execFile);

/** The compiled artefact an image ships (make build), unless told otherwise. */
export const CLI_MAIN = process.env['PORTCULLIS_MAIN'] ?? 'dist/cli/main.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * A child process (`cpus`: pinned with taskset). Its stderr goes to ours prefixed by `name` only when it
 * is not JSON log noise; stdout is ignored unless `stdout: 'pipe'`.
 */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: { cpus?: string; stdout?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv } = {},
): Child {
  const [file, argv] = options.cpus ? ['taskset', ['-c', options.cpus, command, ...args]] : [command, args];
  const proc = spawn(file, argv, {
    cwd: root,
    stdio: ['pipe', options.stdout ?? 'ignore', 'pipe'],
    env: options.env ?? process.env,
  });
  const lines = createInterface({ input: proc.stderr! });
  lines.on('line', (line) => {
    if (line.startsWith('{') && !/"level":(50|60)/.test(line)) return; // pino below error
    process.stderr.write(`[${name}] ${line}\n`);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    pid: proc.pid!,
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function firstLine(proc: ChildProcess): Promise<string> {
  const lines = createInterface({ input: proc.stdout! });
  for await (const line of lines) return line;
  throw new Error('child exited before printing');
}

/** Polls url until it answers 2xx: at most `timeoutMs`, and fails early when the child exits. */
export async function waitReady(url: string, child?: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null))
      throw new Error(`exited before ready: ${url}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready within ${timeoutMs} ms: ${url}`);
}

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** User + system CPU seconds a process has used so far (its threads included). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime, stime
}

/** CPU seconds of several processes (those that exited count as nothing). */
export function sumCpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSecondsOf(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

/** This process's CPU seconds (precise). */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

/**
 * CPU accounting of one measured window: our processes (by pid, plus this one) and the machine. What the
 * machine was busy with beyond our processes is other people's load: it is reported with every figure.
 */
export class CpuWindow {
  readonly #pids: readonly number[];
  readonly #startedAt = performance.now();
  readonly #machine = machineCpuSeconds();
  readonly #own = ownCpuSeconds();
  readonly #children: Map<number, number>;
  /** Further processes of ours (a database server's) counted only as ours, not reported one by one. */
  readonly #extra: readonly number[];
  readonly #extraBefore: number;

  constructor(pids: readonly number[], extra: readonly number[] = []) {
    this.#pids = pids;
    this.#children = new Map(pids.map((pid) => [pid, cpuSecondsOf(pid)]));
    this.#extra = extra;
    this.#extraBefore = sumCpuSeconds(extra);
  }

  end(): {
    seconds: number;
    cpuSeconds: Record<number, number>;
    benchProcessCpuSeconds: number;
    machineBusyCores: number;
    otherBusyCores: number;
  } {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const machine = machineCpuSeconds();
    const cpuSeconds: Record<number, number> = {};
    for (const pid of this.#pids) cpuSeconds[pid] = cpuSecondsOf(pid) - this.#children.get(pid)!;
    const own = ownCpuSeconds() - this.#own;
    const extra = sumCpuSeconds(this.#extra) - this.#extraBefore;
    const ours = own + extra + Object.values(cpuSeconds).reduce((a, b) => a + b, 0);
    const busy = machine.busy - this.#machine.busy;
    return {
      seconds,
      cpuSeconds,
      benchProcessCpuSeconds: own,
      machineBusyCores: round2(busy / seconds),
      otherBusyCores: round2(Math.max(0, busy - ours) / seconds),
    };
  }
}

/** The samples of one Prometheus metric family (name without suffix matching), as [labels, value]. */
export function promSamples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  const pattern = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm');
  for (const match of text.matchAll(pattern)) out.push({ labels: match[1] ?? '', value: Number(match[2]) });
  return out;
}

export function promValue(text: string, name: string, labelFilter = ''): number {
  return promSamples(text, name)
    .filter((s) => s.labels.includes(labelFilter))
    .reduce((a, s) => a + s.value, 0);
}

export async function scrape(url: string): Promise<string> {
  return fetch(url).then((r) => r.text());
}

/** Load average samples every `everyMs` until stopped (bounded: at most `max` samples). */
export class LoadSampler {
  readonly #samples: number[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(everyMs = 5_000, max = 2_000) {
    this.#samples.push(loadavg()[0]!);
    this.#timer = setInterval(() => {
      if (this.#samples.length < max) this.#samples.push(loadavg()[0]!);
    }, everyMs);
    this.#timer.unref();
  }

  stop(): { min: number; mean: number; max: number; samples: number } {
    clearInterval(this.#timer);
    this.#samples.push(loadavg()[0]!);
    const s = this.#samples;
    return {
      min: round2(Math.min(...s)),
      mean: round2(s.reduce((a, b) => a + b, 0) / s.length),
      max: round2(Math.max(...s)),
      samples: s.length,
    };
  }
}

/** The busiest processes right now that are not ours (pid, %CPU, command), for the results' load note. */
export async function otherBusyProcesses(ours: readonly number[]): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,pcpu,args', '--sort=-pcpu', '--no-headers']);
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .filter((line) => !ours.includes(Number(line.split(/\s+/, 1)[0])))
    .filter((line) => Number(line.split(/\s+/)[1]) >= 10)
    .slice(0, 5)
    .map((line) => line.slice(0, 160));
}

/** Pins every thread of this process to `cpus` (taskset list syntax), e.g. "0" or "0,1". */
export async function pinSelf(cpus: string): Promise<void> {
  await run('taskset', ['-a', '-p', '-c', cpus, String(process.pid)]);
}

export function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

export function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
