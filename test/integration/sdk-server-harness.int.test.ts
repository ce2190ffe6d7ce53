import { expect, inject, it } from 'vitest';
import { startSdkServer } from '../harness/sdk-servers.ts';
import type { SdkServerSpec } from '../sdk-servers/spec.ts';

// startSdkServer's failure paths, with stand-in servers that break the contract on purpose: each
// failure must say which server and show what it wrote to stderr.

function shellServer(name: string, script: string): SdkServerSpec {
  // bash -c SCRIPT NAME --port P --log FILE: the script sees the contract's flags as "$@".
  return { name, prepare: () => Promise.resolve(['bash', '-c', script, name]) };
}

it('rejects with the stderr of a server that exits before its ready line', async () => {
  const spec = shellServer('crashes', 'echo "cannot bind: $*" >&2; exit 3');
  await expect(startSdkServer(spec, { workDir: inject('scratchDir') })).rejects.toThrow(
    /crashes exited before it was ready \(code 3.*cannot bind: --port \d+ --log /s,
  );
});

it('rejects with the reason when the command cannot be started at all', async () => {
  const spec: SdkServerSpec = {
    name: 'missing',
    prepare: () => Promise.resolve(['/nonexistent/sdk-server']),
  };
  await expect(startSdkServer(spec, { workDir: inject('scratchDir') })).rejects.toThrow(
    /missing could not start: spawn \/nonexistent\/sdk-server ENOENT/,
  );
});

it('rejects a first line on stdout that is not the ready line for its port', async () => {
  // stderr first: the file holds "started" before the stdout line the harness reacts to exists.
  const spec = shellServer('chatty', 'echo "started" >&2; echo "listening on $2"; sleep 30');
  await expect(startSdkServer(spec, { workDir: inject('scratchDir') })).rejects.toThrow(
    /chatty's first line on stdout is not the ready line \{"url":"http:\/\/127\.0\.0\.1:\d+\/mcp"\}: listening on \d+.*started/s,
  );
});

it('rejects after the ready timeout when a server stays silent, and stops it', async () => {
  const spec = shellServer('silent', 'echo "still warming up" >&2; exec sleep 30');
  const started = Date.now();
  await expect(startSdkServer(spec, { workDir: inject('scratchDir'), readyTimeoutMs: 500 })).rejects.toThrow(
    /silent printed no ready line within 500 ms.*still warming up/s,
  );
  expect(Date.now() - started).toBeLessThan(5_000);
});

it('reads and clears the execution log of a server that follows the contract', async () => {
  // A stand-in that logs one execution, then announces itself and waits for EOF on stdin.
  const spec = shellServer(
    'stand-in',
    `echo '{"sdk":"stand-in","tool":"echo","arguments":{"text":"hi"}}' >>"$4"
     echo "{\\"url\\":\\"http://127.0.0.1:$2/mcp\\"}"
     cat >/dev/null`,
  );
  const server = await startSdkServer(spec, { workDir: inject('scratchDir') });
  try {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(await server.executions()).toEqual([{ sdk: 'stand-in', tool: 'echo', arguments: { text: 'hi' } }]);
    await server.clearExecutions();
    expect(await server.executions()).toEqual([]);
  } finally {
    await server.stop();
  }
  await server.stop(); // idempotent
});
