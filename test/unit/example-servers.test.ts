import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, describe, expect, it } from 'vitest';
import { toolDigest } from '../../policy/tool-digest.ts';
import { loadExample } from '../fixtures/examples.ts';

/**
 * The example servers (examples/servers/*.ts) against the YAML that runs them: the pins in
 * examples/*.yaml are the digests of what the servers publish (computed by the one digest function the
 * sidecar enforces with), every tool a server publishes is pinned, and every tool its ToolPolicies
 * name exists. A server edit (or an SDK upgrade that changes a schema) that would quarantine a tool
 * on a real cluster fails here instead, and prints the pins to paste.
 */
const servers = join(import.meta.dirname, '../../examples/servers');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGTERM');
});

async function publishedDigests(transport: Transport): Promise<Map<string, string>> {
  const client = new Client({ name: 'example-servers-test', version: '1.0.0' });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    return new Map(tools.map((tool) => [tool.name, toolDigest(tool)]));
  } finally {
    await client.close();
  }
}

/** Starts the HTTP example on a free loopback port; resolves with its MCP URL. */
async function startHttp(file: string): Promise<URL> {
  const child = spawn(process.execPath, [join(servers, file), '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => Promise.reject(new Error(`${file} exited (${code})`))),
  ])) as [string];
  return new URL((JSON.parse(line) as { url: string }).url);
}

function expectPinned(file: string, published: Map<string, string>): void {
  const {
    servers: [server],
    policies,
  } = loadExample(file);
  const pins = new Map((server!.spec.tools?.pins ?? []).map((pin) => [pin.name, pin.digest]));
  const paste = [...published].map(([name, digest]) => `      - name: ${name}\n        digest: ${digest}`);
  expect(Object.fromEntries(pins), `pins for ${file}:\n${paste.join('\n')}`).toEqual(
    Object.fromEntries(published),
  );
  const named = policies.flatMap((p) => p.spec.rules.flatMap((r) => r.tools));
  const exact = named.filter((tool) => !tool.includes('*'));
  expect(
    exact.filter((tool) => !published.has(tool)),
    'tools the policies name but the server lacks',
  ).toEqual([]);
}

describe('example servers publish exactly what examples/*.yaml pins', () => {
  it('billing (Streamable HTTP) and examples/billing.yaml', async () => {
    const url = await startHttp('billing.ts');
    expect(url.pathname).toBe('/mcp');
    const published = await publishedDigests(new StreamableHTTPClientTransport(url));
    expect([...published.keys()].sort()).toEqual(['issue_refund', 'list_invoices', 'read_invoice']);
    expectPinned('billing.yaml', published);
  });

  it('docs (stdio) and examples/stdio-docs.yaml', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(servers, 'docs.ts')],
      stderr: 'ignore',
    });
    const published = await publishedDigests(transport);
    expect([...published.keys()].sort()).toEqual(['export_all', 'fetch_url', 'read_page', 'search']);
    expectPinned('stdio-docs.yaml', published);
  });

  it('the digests do not depend on the run (two listings agree)', async () => {
    const url = await startHttp('billing.ts');
    const [a, b] = await Promise.all([
      publishedDigests(new StreamableHTTPClientTransport(url)),
      publishedDigests(new StreamableHTTPClientTransport(url)),
    ]);
    expect(a).toEqual(b);
  });
});
