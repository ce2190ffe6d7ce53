import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { readJsonLines } from './json-lines.ts';

/**
 * A stdio MCP server process: newline-delimited JSON-RPC on stdin/stdout, stderr to our log. Restarted
 * with backoff when it exits; callers learn of the exit so in-flight calls fail instead of hanging.
 */
export interface StdioProcess {
  send(message: object): boolean;
  onMessage(listener: (message: Record<string, unknown>) => void): void;
  onExit(listener: () => void): void;
  close(): Promise<void>;
}

export function startStdioProcess(
  command: readonly string[],
  log: Logger,
  env: Readonly<Record<string, string>> = {},
): StdioProcess {
  const messageListeners: ((m: Record<string, unknown>) => void)[] = [];
  const exitListeners: (() => void)[] = [];
  let child: ChildProcessWithoutNullStreams | undefined;
  let closing = false;
  let restarts = 0;

  function launch(): void {
    const [file, ...args] = command;
    const proc = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...env } });
    child = proc;
    readJsonLines(proc.stdout, log, messageListeners);
    createInterface({ input: proc.stderr }).on('line', (line) =>
      log.info({ stdio: 'stderr' }, line.slice(0, 2000)),
    );
    proc.on('exit', (code, signal) => {
      for (const listener of exitListeners) listener();
      if (closing) return;
      restarts += 1;
      const delay = Math.min(30_000, 100 * 2 ** Math.min(restarts, 8));
      log.error({ code, signal, restartInMs: delay }, 'stdio server exited; restarting');
      setTimeout(launch, delay).unref();
    });
    proc.stdin.on('error', (error) => log.warn({ err: error }, 'stdio server stdin error'));
  }
  launch();

  return {
    send(message) {
      if (!child || child.exitCode !== null || !child.stdin.writable) return false;
      child.stdin.write(`${JSON.stringify(message)}\n`);
      return true;
    },
    onMessage: (listener) => void messageListeners.push(listener),
    onExit: (listener) => void exitListeners.push(listener),
    close() {
      closing = true;
      const proc = child;
      if (!proc || proc.exitCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const kill = setTimeout(() => proc.kill('SIGKILL'), 2000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.stdin.end();
        proc.kill('SIGTERM');
      });
    },
  };
}
