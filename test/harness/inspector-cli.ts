import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

/**
 * Runs the MCP Inspector CLI (`mcp-inspector-cli --cli`), a client we did not write, against a URL.
 * Always with this Node: the CLI's launcher re-spawns `node` from PATH for its worker, so this Node's
 * directory goes first on the child's PATH (the machines' system Node is too old for the SDK).
 */
export interface InspectorRun {
  /** Exit code; null when the run was killed at the deadline. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const cliBuild = dirname(
  createRequire(import.meta.url).resolve('@modelcontextprotocol/inspector-cli/build/cli.js'),
);

export function runInspector(
  url: string,
  args: readonly string[],
  options: { readonly token?: string; readonly timeoutMs?: number } = {},
): Promise<InspectorRun> {
  const headers = options.token ? ['--header', `Authorization: Bearer ${options.token}`] : [];
  const argv = [join(cliBuild, 'cli.js'), '--cli', url, '--transport', 'http', ...headers, ...args];
  const child = spawn(process.execPath, argv, {
    // The CLI finds its own package.json relative to the working directory (../package.json).
    cwd: cliBuild,
    env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so the deadline kills the launcher and the worker it spawned.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const deadline = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 15_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON result the CLI prints on success. */
export function inspectorResult(run: InspectorRun): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>;
}
