import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A sidecar that cannot start must end, so the kubelet restarts it and says why. One whose admin port
 * was taken used to keep its first port open and ignore SIGTERM, and one whose WAL was unusable stayed
 * beside the stdio server it had spawned: processes neither serving nor gone (a benchmark's port clash
 * left one running for an hour).
 */
const repo = join(import.meta.dirname, '../..');
const LOOPBACK_PORTS = [
  '--listen',
  '127.0.0.1:0',
  '--admin-listen',
  '127.0.0.1:0',
  '--egress-listen',
  '127.0.0.1:0',
];

function occupiedPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

/** Runs `portcullis sidecar` to its end; one still running after 20 s (the defect) is killed. */
async function sidecarRun(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [join(repo, 'cli/main.ts'), 'sidecar', '--policy', join(repo, 'test/fixtures/policies/billing'), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

describe('a sidecar that cannot start', () => {
  const taken: Server[] = [];
  afterAll(() => {
    for (const server of taken) server.close();
  });

  it.each(['--admin-listen', '--egress-listen'])(
    'exits with 1 and the reason when %s is taken',
    async (flag) => {
      const { server, port } = await occupiedPort();
      taken.push(server);
      const ports = [...LOOPBACK_PORTS];
      ports[ports.indexOf(flag) + 1] = `127.0.0.1:${port}`;
      const { code, stderr } = await sidecarRun(['--upstream', 'http://127.0.0.1:9/mcp', ...ports]);
      expect(code).toBe(1);
      expect(stderr).toContain('EADDRINUSE');
      expect(stderr).toContain(`127.0.0.1:${port}`);
    },
  );

  it('exits with 1 and the reason when its WAL is unusable, also beside a stdio server it spawned', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'start-failure-'));
    await writeFile(join(dir, 'file'), '');
    const { code, stderr } = await sidecarRun([
      '--audit-wal',
      join(dir, 'file/wal'), // a path under a file: recovery fails with ENOTDIR
      '--collector-url',
      'http://127.0.0.1:9',
      ...LOOPBACK_PORTS,
      '--upstream-command',
      process.execPath,
      '-e',
      'process.stdin.resume()', // a stdio server that would hold the sidecar's event loop
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain('WAL recovery');
    expect(stderr).toContain('ENOTDIR');
  });
});
