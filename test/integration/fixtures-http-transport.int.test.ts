import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { spawnHttpFixture } from '../fixtures/mcp/spawn-http-fixture.ts';

let fixture: HttpFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
};

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

describe('the Streamable HTTP fixture server', () => {
  it('resumes a stream the server closed mid-call when the client comes back with Last-Event-ID', async () => {
    fixture = await startHttpFixture('conformance');
    const requests: { method: string; lastEventId: string | null }[] = [];
    const recordingFetch: FetchLike = (url, init) => {
      requests.push({
        method: init?.method ?? 'GET',
        lastEventId: new Headers(init?.headers).get('last-event-id'),
      });
      return fetch(url, init);
    };
    const client = await connectHttpClient(fixture.url, { fetch: recordingFetch });
    try {
      const result = await client.callTool({ name: 'test_reconnection', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'Reconnection test completed.' }]);
      expect(requests).toContainEqual({ method: 'GET', lastEventId: expect.any(String) });
    } finally {
      await client.close();
    }
  });

  it('gives each initialize its own session and refuses unknown sessions with 404', async () => {
    fixture = await startHttpFixture('billing');
    const first = await post(fixture.url, initialize);
    const second = await post(fixture.url, initialize);
    expect(first.status).toBe(200);
    expect(first.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.headers.get('mcp-session-id')).not.toBe(first.headers.get('mcp-session-id'));
    await Promise.all([first.body?.cancel(), second.body?.cancel()]);

    const unknown = await post(
      fixture.url,
      { jsonrpc: '2.0', id: 2, method: 'ping' },
      { 'mcp-session-id': 'nope' },
    );
    expect(unknown.status).toBe(404);
  });

  it('serves no sessions and no GET stream when stateless', async () => {
    fixture = await startHttpFixture('billing', { stateless: true });
    const initialized = await post(fixture.url, initialize);
    expect(initialized.status).toBe(200);
    expect(initialized.headers.get('mcp-session-id')).toBeNull();
    await initialized.body?.cancel();
    const get = await fetch(fixture.url, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) with 403', async () => {
    fixture = await startHttpFixture('billing');
    const { port } = new URL(fixture.url);
    const foreignOrigin = await post(fixture.url, initialize, { origin: 'http://evil.example.com' });
    expect(foreignOrigin.status).toBe(403);
    const localOrigin = await post(fixture.url, initialize, { origin: `http://localhost:${port}` });
    expect(localOrigin.status).toBe(200);
    await localOrigin.body?.cancel();
  });

  it('answers only on /mcp', async () => {
    fixture = await startHttpFixture('billing');
    const elsewhere = await post(new URL('/other', fixture.url).href, initialize);
    expect(elsewhere.status).toBe(404);
  });

  it('runs as a child process too, which exits when its stdin closes', async () => {
    fixture = await spawnHttpFixture('billing');
    const client = await connectHttpClient(fixture.url);
    try {
      const result = await client.callTool({ name: 'list_invoices', arguments: { customer_id: 'acme' } });
      expect(result.structuredContent).toMatchObject({ received: { customer_id: 'acme' } });
    } finally {
      await client.close();
    }
  });
});
