import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createStdioUpstream } from './upstream-stdio.ts';
import type { Upstream, UpstreamResponse } from './upstream.ts';

/**
 * The shared stdio bridge against a deliberately strict server: like the Python SDK's, it refuses
 * every request before initialize + notifications/initialized. `hang` never answers, `crash` exits,
 * `seen` reports the process id and every notification it received.
 */
const STRICT_SERVER = String.raw`
const readline = require('node:readline');
let state = 'new';
const notes = [];
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) {
    notes.push(m);
    if (m.method === 'notifications/initialized' && state === 'initializing') state = 'ready';
    return;
  }
  if (m.method === 'initialize') {
    state = 'initializing';
    return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: {}, serverInfo: { name: 'strict', version: '1' } } });
  }
  if (state !== 'ready') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32600, message: 'not initialized' } });
  if (m.method === 'crash') process.exit(3);
  if (m.method === 'hang') return;
  send({ jsonrpc: '2.0', id: m.id, result: { pid: process.pid, notes } });
});
process.stdin.on('end', () => process.exit(0));
`;

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

async function text(response: UpstreamResponse): Promise<string> {
  let all = '';
  for await (const chunk of response.body) all += String(chunk);
  return all;
}

/** The JSON-RPC messages of an SSE body. */
async function messages(response: UpstreamResponse): Promise<Record<string, unknown>[]> {
  return (await text(response))
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

describe('the shared stdio bridge', () => {
  let upstream: Upstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  async function open(): Promise<{ post: (body: object) => Promise<UpstreamResponse> }> {
    upstream = createStdioUpstream([process.execPath, '-e', STRICT_SERVER], {
      log: pino({ level: 'silent' }),
    });
    const bridge = upstream;
    const initialized = await bridge.send({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(INITIALIZE),
    });
    const session = String(initialized.headers['mcp-session-id']);
    await text(initialized);
    const post = (body: object) =>
      bridge.send({
        method: 'POST',
        headers: { 'content-type': 'application/json', 'mcp-session-id': session },
        body: JSON.stringify(body),
      });
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
    return { post };
  }

  it('ends a request stream once the client cancels it, and passes the reason on', async () => {
    const { post } = await open();
    const hanging = await post({ jsonrpc: '2.0', id: 7, method: 'hang' });
    const ended = messages(hanging);
    await post({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 7, reason: 'user pressed stop' },
    });
    const outcome = await Promise.race([ended, delay(2000, 'still open')]);
    expect(outcome).toEqual([]);
    const [seen] = await messages(await post({ jsonrpc: '2.0', id: 8, method: 'seen' }));
    const notes = (seen!['result'] as { notes: { method: string; params?: Record<string, unknown> }[] })
      .notes;
    expect(notes.at(-1)).toMatchObject({
      method: 'notifications/cancelled',
      params: { reason: 'user pressed stop' },
    });
    // The request id the process saw is the bridge's, not the client's.
    expect(notes.at(-1)!.params!['requestId']).not.toBe(7);
  });

  it('fails calls in flight when the process dies, and initializes the restarted process itself', async () => {
    const { post } = await open();
    const [first] = await messages(await post({ jsonrpc: '2.0', id: 1, method: 'seen' }));
    const before = (first!['result'] as { pid: number }).pid;

    const [crashed] = await messages(await post({ jsonrpc: '2.0', id: 2, method: 'crash' }));
    expect(crashed).toMatchObject({ id: 2, error: { message: 'the MCP server process exited' } });

    // The same session keeps working once the process is back (restart backoff: 200 ms).
    const deadline = Date.now() + 5000;
    let answer: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      [answer] = await messages(await post({ jsonrpc: '2.0', id: 3, method: 'seen' }));
      if (!JSON.stringify(answer?.['error'] ?? '').includes('not running')) break;
      await delay(50);
    }
    expect(answer).toMatchObject({ id: 3, result: {} });
    const after = answer!['result'] as { pid: number; notes: { method: string }[] };
    expect(after.pid).not.toBe(before);
    expect(after.notes.map((n) => n.method)).toEqual(['notifications/initialized']);
  });
});
