import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SdkServerSpec } from '../sdk-servers/spec.ts';
import { freeLoopbackPorts } from './free-port.ts';
import { describeLog } from './log-tail.ts';
import { signalProcess } from './processes.ts';

export { SDK_SERVER_SPECS } from '../sdk-servers/registry.ts';

/** One line of an SDK server's execution log: a tool the SDK really ran, as its handler saw it. */
export interface Execution {
  readonly sdk: string;
  readonly tool: string;
  readonly arguments: Record<string, unknown>;
}

export interface RunningSdkServer {
  readonly name: string;
  /** http://127.0.0.1:<port>/mcp */
  readonly url: string;
  /** Every execution logged since the start or the last clearExecutions(), oldest first. */
  executions(): Promise<Execution[]>;
  clearExecutions(): Promise<void>;
  /** EOF on stdin and SIGTERM, SIGKILL after 5 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface StartSdkServerOptions {
  /** The cache root build.sh builds into; $PORTCULLIS_CACHE or ~/.cache/portcullis by default. */
  readonly cacheDir?: string;
  /** Where the execution log and stderr go (a fresh directory inside it); the OS temp dir by default. */
  readonly workDir?: string;
  /** From spawn to the ready line (the build, which can take minutes cold, is not counted). 30 s by default. */
  readonly readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 5_000;

/**
 * Builds (when missing) and starts one SDK server of the differential fuzzer on a free loopback port
 * and resolves once it has printed its ready line. Its stdin is a pipe we hold: should this process
 * die without stop(), the server sees EOF and exits (the contract), so nothing is left behind.
 */
export async function startSdkServer(
  spec: SdkServerSpec,
  options: StartSdkServerOptions = {},
): Promise<RunningSdkServer> {
  const cacheDir =
    options.cacheDir ?? (process.env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis'));
  const [command, ...args] = await spec.prepare(cacheDir);
  if (command === undefined) throw new Error(`${spec.name}: prepare() returned an empty command`);
  const { port } = await freeLoopbackPorts(['port']);
  const dir = mkdtempSync(join(options.workDir ?? tmpdir(), `sdk-server-${spec.name}-`));
  const logPath = join(dir, 'executions.jsonl');
  const stderrPath = join(dir, 'stderr.log');
  writeFileSync(logPath, '');

  const stderr = openSync(stderrPath, 'a');
  const child = spawn(command, [...args, '--port', String(port), '--log', logPath], {
    stdio: ['pipe', 'pipe', stderr],
  });
  closeSync(stderr); // the child has its own copy
  child.stdin?.on('error', () => {}); // EPIPE once the server is gone; `exited` tells.
  // 'exit', not only 'close': a grandchild that inherited stdout would hold 'close' back forever. A
  // command that could not be spawned emits 'close' but no 'exit'.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('close', () => resolve());
  });

  const url = `http://127.0.0.1:${port}/mcp`;
  try {
    await waitForReadyLine(spec.name, child, url, options.readyTimeoutMs ?? 30_000);
  } catch (error) {
    await stopChild(child, exited);
    throw new Error(`${(error as Error).message}\n${describeLog(`${spec.name} stderr`, stderrPath)}`, {
      cause: error,
    });
  }

  let stopping: Promise<void> | undefined;
  // One descriptor for the whole run: the fuzzer reads and truncates the log after every case, and an
  // fstat of an empty log is the common answer.
  const log = openSync(logPath, 'r+');
  return {
    name: spec.name,
    url,
    executions: () => Promise.resolve(readExecutions(log)),
    clearExecutions: () => Promise.resolve(ftruncateSync(log, 0)),
    stop: () =>
      (stopping ??= stopChild(child, exited).finally(() => {
        closeSync(log);
      })),
  };
}

/** Resolves on the contract's ready line, `{"url":"<url>"}`; rejects on anything else, exit or timeout. */
function waitForReadyLine(name: string, child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  const stdout = child.stdout;
  if (stdout === null) throw new Error('spawn() ignored stdio: pipe');
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    const timer = setTimeout(
      () => settle(new Error(`${name} printed no ready line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`));
    const settle = (error?: Error) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      stdout.resume(); // keep draining: a server that writes more must not block on a full pipe
      if (error === undefined) resolve();
      else reject(error);
    };
    child.once('exit', onExit);
    child.once('error', (error) => settle(new Error(`${name} could not start: ${error.message}`)));
    lines.once('line', (line) => {
      let announced: unknown;
      try {
        announced = JSON.parse(line);
      } catch {
        announced = undefined;
      }
      const expected = JSON.stringify({ url });
      settle(
        JSON.stringify(announced) === expected
          ? undefined
          : new Error(`${name}'s first line on stdout is not the ready line ${expected}: ${line}`),
      );
    });
  });
}

function readExecutions(log: number): Execution[] {
  const size = fstatSync(log).size;
  if (size === 0) return [];
  const bytes = Buffer.alloc(size);
  const read = readSync(log, bytes, 0, size, 0);
  return bytes
    .toString('utf8', 0, read)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const parsed = JSON.parse(line) as Partial<Execution>;
      if (
        typeof parsed.sdk !== 'string' ||
        typeof parsed.tool !== 'string' ||
        typeof parsed.arguments !== 'object'
      ) {
        throw new Error(`not an execution log line: ${line}`);
      }
      return parsed as Execution;
    });
}

/** EOF on stdin and SIGTERM (the contract's two ways to stop), then SIGKILL after the grace period. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.stdin?.end();
  if (child.pid !== undefined) signalProcess(child.pid, 'SIGTERM');
  const pid = child.pid;
  const lastResort = setTimeout(() => {
    if (pid !== undefined) signalProcess(pid, 'SIGKILL');
  }, STOP_GRACE_MS);
  await exited;
  clearTimeout(lastResort);
}
