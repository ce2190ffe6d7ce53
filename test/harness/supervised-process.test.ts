import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRunning } from './processes.ts';
import { ProcessExitedError, startSupervised } from './supervised-process.ts';

// The watchdog's contract, with `sleep` and `sh` standing in for etcd and kube-apiserver.

const dir = mkdtempSync(join(tmpdir(), 'portcullis-supervised-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spec(name: string, command: string, args: string[], stopGraceSeconds?: number) {
  return { name, command, args, logPath: join(dir, `${name}.log`), stopGraceSeconds };
}

describe('startSupervised', () => {
  it('stops the server with SIGTERM', async () => {
    const server = await startSupervised(spec('sleeper', 'sleep', ['600']));
    expect(isRunning(server.pid)).toBe(true);

    expect(await server.stop()).toEqual({ code: 128 + 15, signal: null });
    expect(isRunning(server.pid)).toBe(false);
  });

  it('sends SIGKILL to a server that outlives SIGTERM by the grace period', async () => {
    const stubborn = spec(
      'stubborn',
      'sh',
      ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'],
      1,
    );
    const server = await startSupervised(stubborn);
    await expect.poll(() => readFileSync(stubborn.logPath, 'utf8')).toContain('ready');

    const startedAt = performance.now();
    expect(await server.stop()).toEqual({ code: 128 + 9, signal: null });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(1_000);
    expect(readFileSync(stubborn.logPath, 'utf8')).toContain('outlived SIGTERM by 1s; sending SIGKILL');
  });

  it('reports a server that exits by itself, with its exit code', async () => {
    const server = await startSupervised(spec('quitter', 'sh', ['-c', 'exit 3']));
    expect(await server.exited).toEqual({ code: 3, signal: null });
  });

  it('names the signal that killed a server', async () => {
    const server = await startSupervised(spec('victim', 'sleep', ['600']));
    process.kill(server.pid, 'SIGKILL');
    const error = new ProcessExitedError('victim', await server.exited, server.logPath);
    expect(error.message).toMatch(/^victim exited unexpectedly on SIGKILL\n--- last lines of victim log/);
  });

  it('kills the server at once when the owning process is SIGKILLed', async () => {
    const ownerScript = [
      `import { startSupervised } from ${JSON.stringify(new URL('./supervised-process.ts', import.meta.url).href)};`,
      `const server = await startSupervised(${JSON.stringify(spec('orphan', 'sleep', ['600']))});`,
      'console.log(server.pid);',
    ].join('\n');
    const owner = spawn(process.execPath, ['--input-type=module', '-e', ownerScript], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const serverPid = await new Promise<number>((resolve) =>
      owner.stdout.once('data', (chunk: Buffer) => resolve(Number.parseInt(chunk.toString(), 10))),
    );
    expect(isRunning(serverPid)).toBe(true);

    owner.kill('SIGKILL');

    await expect.poll(() => isRunning(serverPid), { timeout: 2_000, interval: 20 }).toBe(false);
  });
});
