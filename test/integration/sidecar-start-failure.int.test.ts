import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * A sidecar that cannot start must end, so the kubelet restarts it and says why. One whose admin port
 * was taken used to keep its first port open and ignore SIGTERM: a process that was neither serving nor
 * gone (found when a benchmark's port clash left one running for an hour).
 */
const repo = join(import.meta.dirname, '../..');

function occupiedPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

describe('a sidecar that cannot listen', () => {
  const taken: Server[] = [];
  afterAll(() => {
    for (const server of taken) server.close();
  });

  it.each(['--admin-listen', '--egress-listen'])(
    'exits with 1 and the reason when %s is taken',
    async (flag) => {
      const { server, port } = await occupiedPort();
      taken.push(server);
      const ports = {
        '--listen': '127.0.0.1:0',
        '--admin-listen': '127.0.0.1:0',
        '--egress-listen': '127.0.0.1:0',
      };
      const child = spawn(
        process.execPath,
        [
          join(repo, 'cli/main.ts'),
          'sidecar',
          '--policy',
          join(repo, 'test/fixtures/policies/billing'),
          '--upstream',
          'http://127.0.0.1:9/mcp',
          ...Object.entries({ ...ports, [flag]: `127.0.0.1:${port}` }).flat(),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // Bounded: a sidecar still running after 20 s is the defect; it is killed so the test ends.
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(stderr).toContain(`EADDRINUSE`);
      expect(stderr).toContain(`127.0.0.1:${port}`);
    },
  );
});
