import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const lifeline = fileURLToPath(new URL('./lifeline.sh', import.meta.url));

export interface ChildExit {
  readonly code: number | null;
  readonly signal: string | null;
}

/** One process of the stack, under demo/stack/lifeline.sh: it stops when we close its stdin or die. */
export interface StackChild {
  readonly name: string;
  readonly logPath: string;
  /** Settles when the process has exited, whether we stopped it or not. Never rejects. */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM, SIGKILL after the grace period; resolves once it is gone. Idempotent. */
  stop(): Promise<ChildExit>;
}

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Receives the process's stdout and stderr. */
  readonly logPath: string;
  readonly env: Readonly<Record<string, string>>;
  /** Between SIGTERM and SIGKILL. */
  readonly graceSeconds: number;
}

export function startChild(spec: ChildSpec): StackChild {
  const log = openSync(spec.logPath, 'a');
  const child = spawn('bash', [lifeline, String(spec.graceSeconds), spec.command, ...spec.args], {
    stdio: ['pipe', log, log],
    env: spec.env,
    // Own process group: a Ctrl-C at the terminal reaches the stack's process only, which stops the
    // children in order (the sidecar drains its audit log into the collector before the collector stops).
    detached: true,
  });
  closeSync(log);
  child.stdin?.on('error', () => {}); // EPIPE when the lifeline is already gone; `exited` tells.
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });

  let stopping: Promise<ChildExit> | undefined;
  return {
    name: spec.name,
    logPath: spec.logPath,
    exited,
    stop() {
      stopping ??= (async () => {
        child.stdin?.end();
        const deadline = new Promise<'late'>((resolve) =>
          setTimeout(resolve, (spec.graceSeconds + 3) * 1000, 'late').unref(),
        );
        if ((await Promise.race([exited, deadline])) === 'late' && child.pid !== undefined) {
          // The lifeline itself hangs: the whole process group goes.
          await new Promise((resolve) => execFile('kill', ['-KILL', '--', `-${child.pid}`], resolve));
        }
        return exited;
      })();
      return stopping;
    },
  };
}
