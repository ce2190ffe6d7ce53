import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { freeLoopbackPorts } from './free-port.ts';
import { describeLog } from './log-tail.ts';
import { signalProcess } from './processes.ts';
import { startSupervised, type ProcessExit, type SupervisedProcess } from './supervised-process.ts';

/**
 * `portcullis sidecar` as its own process (`node cli/main.ts sidecar ...`), the way a pod runs it, so
 * tests can crash it for real (SIGKILL) and start it again over the same WAL. Ports are chosen once:
 * every start listens on the same addresses.
 */
export interface SidecarProcess {
  /** The MCP endpoint. */
  readonly url: string;
  readonly adminUrl: string;
  readonly logPath: string;
  /** The running process, while it runs. */
  readonly current: SupervisedProcess | undefined;
  /** Starts it (with `extraArgs` for this start only) and resolves once /readyz answers 200. */
  start(extraArgs?: readonly string[]): Promise<void>;
  /** SIGKILL: no shutdown, no flush. Resolves once the process is gone. */
  kill(): Promise<ProcessExit | undefined>;
  /** SIGTERM: the sidecar drains its audit WAL for up to 5 s, then exits. */
  stop(): Promise<ProcessExit | undefined>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function sidecarProcess(options: {
  /** Flags besides --listen, --admin-listen and --egress-listen. */
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeoutMs?: number;
}): Promise<SidecarProcess> {
  const ports = await freeLoopbackPorts(['mcp', 'admin']);
  const logPath = join(mkdtempSync(join(inject('scratchDir'), 'sidecar-')), 'sidecar.log');
  const adminUrl = `http://127.0.0.1:${ports.admin}`;
  let current: SupervisedProcess | undefined;

  const waitReady = async (proc: SupervisedProcess) => {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    let exited = false;
    void proc.exited.then(() => (exited = true));
    while (Date.now() < deadline && !exited) {
      const ready = await fetch(`${adminUrl}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`the sidecar did not become ready\n${describeLog('sidecar', logPath)}`);
  };

  const end = async (signal: NodeJS.Signals) => {
    const proc = current;
    if (proc === undefined) return undefined;
    current = undefined;
    signalProcess(proc.pid, signal);
    const exit = await proc.exited;
    return exit;
  };

  return {
    url: `http://127.0.0.1:${ports.mcp}/mcp`,
    adminUrl,
    logPath,
    get current() {
      return current;
    },
    async start(extraArgs = []) {
      if (current) throw new Error('the sidecar is running');
      const proc = await startSupervised({
        name: 'sidecar',
        command: 'env',
        args: [
          ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
          process.execPath,
          join(repoRoot, 'cli/main.ts'),
          'sidecar',
          '--listen',
          `127.0.0.1:${ports.mcp}`,
          '--admin-listen',
          `127.0.0.1:${ports.admin}`,
          '--egress-listen',
          '127.0.0.1:0',
          ...options.args,
          ...extraArgs,
        ],
        logPath,
        stopGraceSeconds: 15,
      });
      current = proc;
      await waitReady(proc);
    },
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}
