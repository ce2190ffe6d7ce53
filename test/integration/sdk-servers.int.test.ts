import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { freeLoopbackPorts } from '../harness/free-port.ts';
import { waitUntilGone } from '../harness/processes.ts';
import { postRawMcp } from '../harness/raw-mcp-post.ts';
import { SDK_SERVER_SPECS, startSdkServer, type RunningSdkServer } from '../harness/sdk-servers.ts';
import type { SdkServerSpec } from '../sdk-servers/spec.ts';

// A cold build (Go module download and compile, a Python venv) takes minutes on 2 cores;
// `make sdk-servers` normally has done it before the tests start.
const BUILD_TIMEOUT_MS = 15 * 60_000;

const invoice = { customer_id: 'acme', invoice_id: 'INV-1001' };
const email = { to: 'ops@example.com', body: 'Grüße ✓ "quoted" \\ back\nslash' };

/** Whether a reply refused the call: a JSON-RPC error, or a tool result flagged isError. */
function refused(messages: readonly unknown[]): boolean {
  const [reply] = messages as { error?: unknown; result?: { isError?: boolean } }[];
  return reply === undefined || reply.error !== undefined || reply.result?.isError === true;
}

function toolCall(id: number, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

describe.each(SDK_SERVER_SPECS)('the $name SDK server', (spec) => {
  let server: RunningSdkServer;
  beforeAll(async () => {
    server = await startSdkServer(spec, { workDir: inject('scratchDir') });
  }, BUILD_TIMEOUT_MS);
  afterAll(() => server?.stop());
  beforeEach(() => server.clearExecutions());

  async function connectClient(): Promise<Client> {
    const client = new Client({ name: 'portcullis-sdk-server-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
    return client;
  }

  it('lists exactly the three tools of the contract to the TypeScript SDK client', async () => {
    const client = await connectClient();
    try {
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((tool) => [tool.name, tool]));
      expect([...byName.keys()].sort()).toEqual(['echo', 'get_invoice', 'send_email']);
      const required = (name: string) => [...(byName.get(name)?.inputSchema.required ?? [])].sort();
      expect(required('echo')).toEqual(['text']);
      expect(required('get_invoice')).toEqual(['customer_id', 'invoice_id']);
      expect(required('send_email')).toEqual(['body', 'to']);
      for (const tool of tools) {
        for (const property of Object.values(tool.inputSchema.properties ?? {})) {
          expect(property).toMatchObject({ type: 'string' });
        }
      }
      expect(byName.get('send_email')?.annotations?.destructiveHint).toBe(true);
      expect(await server.executions()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('runs each tool called through the SDK client and logs exactly those executions', async () => {
    const client = await connectClient();
    try {
      expect(await client.callTool({ name: 'echo', arguments: { text: email.body } })).toMatchObject({
        content: [{ type: 'text', text: email.body }],
      });
      const read = await client.callTool({ name: 'get_invoice', arguments: invoice });
      const [readContent] = read.content as { type: string; text: string }[];
      expect(readContent?.type).toBe('text');
      expect(JSON.parse(readContent?.text ?? '')).toEqual(invoice);
      expect(await client.callTool({ name: 'send_email', arguments: email })).toMatchObject({
        content: [{ type: 'text', text: 'sent' }],
      });
    } finally {
      await client.close();
    }
    expect(await server.executions()).toEqual([
      { sdk: spec.name, tool: 'echo', arguments: { text: email.body } },
      { sdk: spec.name, tool: 'get_invoice', arguments: invoice },
      { sdk: spec.name, tool: 'send_email', arguments: email },
    ]);
  });

  it('executes a bare tools/call POST without initialize or session (stateless)', async () => {
    const reply = await postRawMcp(server.url, toolCall(7, 'get_invoice', invoice));
    expect(reply.status, reply.body).toBe(200);
    expect(reply.messages).toMatchObject([
      { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text' }] } },
    ]);
    expect(await server.executions()).toEqual([{ sdk: spec.name, tool: 'get_invoice', arguments: invoice }]);
  });

  it('logs nothing for tools/list or an unknown tool', async () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect((await postRawMcp(server.url, list)).status).toBe(200);
    const unknown = await postRawMcp(server.url, toolCall(2, 'delete_everything', {}));
    expect(refused(unknown.messages), unknown.body).toBe(true);
    expect(await server.executions()).toEqual([]);
  });

  // SDKs differ on these (refuse, coerce, drop the extra property); the contract only says the log
  // holds real executions, so a call is logged exactly when it was answered with a result.
  it.each([
    ['a missing required property', 'send_email', { to: 'ops@example.com' }],
    ['a number for a string', 'echo', { text: 42 }],
    ['a property the schema does not name', 'echo', { text: 'hi', extra: true }],
  ])('logs a call with %s exactly when it answers with a result', async (_case, tool, args) => {
    await server.clearExecutions();
    const reply = await postRawMcp(server.url, toolCall(3, tool, args));
    const executions = await server.executions();
    expect(executions.length, `${reply.body}\n${JSON.stringify(executions)}`).toBe(
      refused(reply.messages) ? 0 : 1,
    );
    expect(executions.every((execution) => execution.tool === tool)).toBe(true);
  });
});

describe('the UTF-7 finding, reproduced directly against typescript-express (no sidecar)', () => {
  // Why the sidecar must never forward client bytes: this is `tools/call` in UTF-7, and express.json()
  // (body-parser) decodes the body in the charset the Content-Type names before the SDK reads it. A
  // gate that reads the bytes as UTF-8 sees an unknown method `tools/+AGMAYQBsAGw-`; the server runs
  // send_email.
  const utf7Call = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/+AGMAYQBsAGw-',
    params: { name: 'send_email', arguments: { to: 'ops@example.com', body: 'hi' } },
  });
  const utf7 = 'application/json; charset=utf-7';

  let server: RunningSdkServer;
  beforeAll(async () => {
    const express = SDK_SERVER_SPECS.find((spec) => spec.name === 'typescript-express');
    if (express === undefined) throw new Error('no typescript-express in SDK_SERVER_SPECS');
    server = await startSdkServer(express, { workDir: inject('scratchDir') });
  });
  afterAll(() => server?.stop());

  it('executes send_email for a UTF-7 body whose method reads as "tools/+AGMAYQBsAGw-" in UTF-8', async () => {
    const reply = await postRawMcp(server.url, utf7Call, utf7);
    expect(reply.messages).toMatchObject([{ id: 1, result: { content: [{ type: 'text', text: 'sent' }] } }]);
    expect(await server.executions()).toEqual([
      { sdk: 'typescript-express', tool: 'send_email', arguments: { to: 'ops@example.com', body: 'hi' } },
    ]);
  });
});

describe('the lifecycle of the contract: each server exits on EOF on stdin and on SIGTERM', () => {
  const cacheDir = process.env['PORTCULLIS_CACHE'] || join(homedir(), '.cache', 'portcullis');

  /** Starts the server with its stdin a pipe and resolves once it printed its ready line. */
  async function startBare(spec: SdkServerSpec) {
    const [command, ...args] = await spec.prepare(cacheDir);
    const { port } = await freeLoopbackPorts(['port']);
    const logPath = join(inject('scratchDir'), `lifecycle-${spec.name}-${port}.jsonl`);
    const child = spawn(command ?? '', [...args, '--port', String(port), '--log', logPath], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    expect(JSON.parse(line)).toEqual({ url: `http://127.0.0.1:${port}/mcp` });
    child.stdout.resume();
    return child;
  }

  it.each(SDK_SERVER_SPECS)('$name exits within 5 s once its stdin closes', async (spec) => {
    const child = await startBare(spec);
    child.stdin.end();
    const gone = await waitUntilGone([child.pid ?? 0], 5_000);
    if (!gone) child.kill('SIGKILL');
    expect(gone).toBe(true);
  });

  it.each(SDK_SERVER_SPECS)('$name exits within 5 s on SIGTERM, its stdin still open', async (spec) => {
    const child = await startBare(spec);
    child.kill('SIGTERM');
    const gone = await waitUntilGone([child.pid ?? 0], 5_000);
    if (!gone) child.kill('SIGKILL');
    child.stdin.end();
    expect(gone).toBe(true);
  });
});
