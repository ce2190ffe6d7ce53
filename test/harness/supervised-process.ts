import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describeLog } from './log-tail.ts';
import { signalProcess } from './processes.ts';

/** How long a server gets between SIGTERM and SIGKILL. */
export const STOP_GRACE_SECONDS = 5;

const watchdogScript = fileURLToPath(new URL('./watchdog.sh', import.meta.url));

export interface SupervisedProcessSpec {
  /** Short name for messages, e.g. "etcd". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Receives the server's stdout and stderr (appended). */
  readonly logPath: string;
  /** Between SIGTERM and SIGKILL on stop(); STOP_GRACE_SECONDS by default. */
  readonly stopGraceSeconds?: number;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A server that dies with this Node process, however this process dies (see watchdog.sh). */
export interface SupervisedProcess {
  readonly name: string;
  /** The server's own PID. */
  readonly pid: number;
  /** The watchdog's PID; it leads the process group that also holds the server. */
  readonly watchdogPid: number;
  readonly logPath: string;
  /** Settles when the server has exited, whether we stopped it or not. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the server has exited. Idempotent. */
  stop(): Promise<ProcessExit>;
}

export class ProcessExitedError extends Error {
  readonly process: string;
  readonly exit: ProcessExit;

  constructor(name: string, exit: ProcessExit, logPath: string) {
    super(`${name} exited unexpectedly ${describeExit(exit)}\n${describeLog(name, logPath)}`);
    this.name = 'ProcessExitedError';
    this.process = name;
    this.exit = exit;
  }
}

function describeExit({ code, signal }: ProcessExit): string {
  if (signal !== null) return `(its watchdog got ${signal})`;
  // The watchdog exits with the server's status, which shell-style is 128 + N for death by signal N.
  const serverSignal = code !== null && code > 128 ? code - 128 : undefined;
  const signalName = Object.entries(constants.signals).find(([, number]) => number === serverSignal)?.[0];
  return signalName === undefined ? `with code ${code}` : `on ${signalName}`;
}

/** Starts `spec.command` under a watchdog and resolves once the server's PID is known. */
export async function startSupervised(spec: SupervisedProcessSpec): Promise<SupervisedProcess> {
  const graceSeconds = spec.stopGraceSeconds ?? STOP_GRACE_SECONDS;
  const log = openSync(spec.logPath, 'a');
  const watchdog = spawn('bash', [watchdogScript, String(graceSeconds), spec.command, ...spec.args], {
    // stdin is the lifeline: "stop" or EOF (see watchdog.sh); stdout reports the server's PID.
    stdio: ['pipe', 'pipe', log],
    // Own process group: a Ctrl-C at the terminal reaches us, not the servers, so we stop them in
    // order; and one group kill reaches watchdog and server if the watchdog hangs.
    detached: true,
  });
  closeSync(log); // the watchdog has its own copy
  const { stdin: lifeline, stdout: pidReport } = watchdog;
  if (lifeline === null || pidReport === null) throw new Error('spawn() ignored stdio: pipe');
  lifeline.on('error', () => {}); // EPIPE when the watchdog is already gone; `exited` tells.

  const exited = new Promise<ProcessExit>((resolve) => {
    watchdog.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const serverPid = await new Promise<number>((resolve, reject) => {
    let output = '';
    pidReport.setEncoding('utf8');
    pidReport.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('\n')) resolve(Number.parseInt(output, 10));
    });
    watchdog.once('error', (error) =>
      reject(new Error(`could not start the watchdog for ${spec.name}: ${error.message}`)),
    );
    void exited.then((exit) => reject(new ProcessExitedError(spec.name, exit, spec.logPath)));
  });
  const watchdogPid = watchdog.pid;
  if (watchdogPid === undefined || !Number.isInteger(serverPid)) {
    throw new Error(`the watchdog for ${spec.name} did not report a PID`);
  }

  let stopping: Promise<ProcessExit> | undefined;
  const stop = (): Promise<ProcessExit> => {
    stopping ??= (async () => {
      lifeline.end('stop\n'); // the watchdog sends SIGTERM, then SIGKILL after the grace period
      const lastResort = setTimeout(() => signalProcess(-watchdogPid, 'SIGKILL'), (graceSeconds + 5) * 1000);
      const exit = await exited;
      clearTimeout(lastResort);
      return exit;
    })();
    return stopping;
  };

  return { name: spec.name, pid: serverPid, watchdogPid, logPath: spec.logPath, exited, stop };
}
