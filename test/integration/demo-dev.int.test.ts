import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../..');
const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' };

/** `portcullis dev` as a person starts it, with its output collected. */
function startDev(args: readonly string[]): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [join(repoRoot, 'cli/main.ts'), 'dev', ...args], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

/** Every process below `pid` (by parent pid, from /proc): the stack's lifelines and servers. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command may contain spaces and parentheses: the fields after the last ')' are fixed.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents)
      if (ppid === parent) {
        found.push(child);
        walk(child);
      }
  };
  walk(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let running: ChildProcess | undefined;
afterEach(() => {
  if (running?.exitCode === null) running.kill('SIGKILL');
  running = undefined;
});

describe('portcullis dev', () => {
  it('runs the stack, prints a working endpoint and tokens, and stops every process on Ctrl-C', async () => {
    const dev = startDev(['--port-base', '0']);
    running = dev.child;
    const deadline = Date.now() + 30_000;
    while (!dev.output().includes('Ready. Press Ctrl-C to stop.') && dev.child.exitCode === null) {
      if (Date.now() > deadline) throw new Error(`dev was not ready within 30 s:\n${dev.output()}`);
      await sleep(50);
    }
    const output = dev.output();
    expect(output).toContain('Ready. Press Ctrl-C to stop.');
    const endpoint = /MCP endpoint\s+(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(output)?.[1];
    const token = /alice via support-copilot .*\n\s+(\S+)\n/.exec(output)?.[1];
    const workDir = /logs\s+(\S+)\/\*\.log/.exec(output)?.[1];
    expect(endpoint).toBeDefined();
    expect(token).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(workDir && existsSync(workDir)).toBe(true);
    expect(output).toContain('"mcpServers"');
    expect(output).toMatch(/audit --collector http:\/\/127\.0\.0\.1:\d+ -n demo --since 1h/);

    // One real MCP call with the printed token, through the printed endpoint.
    const client = new Client({ name: 'dev-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(endpoint!), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const result = await client.callTool({ name: 'list_invoices', arguments: { customer_id: 'acme' } });
    expect(result.isError).not.toBe(true);
    expect(result.structuredContent).toMatchObject({
      customer_id: 'acme',
      caller: { user: 'alice', agent: 'support-copilot', tenant: 'acme', sawAuthorization: false },
    });
    await client.close();

    const processes = descendants(dev.child.pid!);
    // Four servers, each under its lifeline script.
    expect(processes.length).toBeGreaterThanOrEqual(8);
    dev.child.kill('SIGINT');
    const code = await Promise.race([dev.exit, sleep(30_000, 'timeout')]);
    expect(code).toBe(0);
    expect(dev.output()).toContain('Stopped.');
    expect(processes.filter(alive)).toEqual([]);
    expect(existsSync(workDir!)).toBe(false);
    expect(
      await fetch(endpoint!).then(
        () => 'answered',
        () => 'refused',
      ),
    ).toBe('refused');
  }, 60_000);

  it('refuses a directory that does not hold exactly one McpServer, before starting anything', async () => {
    const dev = startDev([join(repoRoot, 'examples'), '--port-base', '0']);
    running = dev.child;
    expect(await dev.exit).toBe(1);
    expect(dev.output()).toMatch(/holds \d+ McpServers; the demo stack serves exactly one/);
  });

  it('names a port that is taken instead of starting half a stack', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const dev = startDev(['--port-base', String(port)]);
      running = dev.child;
      expect(await dev.exit).toBe(1);
      expect(dev.output()).toContain(`port ${port} on 127.0.0.1 (mcp) is in use`);
    } finally {
      taken.close();
    }
  });

  it('refuses invalid flags with a usage error', async () => {
    const dev = startDev(['--port-base', '80']);
    running = dev.child;
    expect(await dev.exit).toBe(2);
    expect(dev.output()).toContain('--port-base must be 0 or a port from 1024 to 65529');
  });
});
