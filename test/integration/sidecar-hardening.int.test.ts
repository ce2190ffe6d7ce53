import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { rawRequest as raw, type RawResponse } from '../harness/raw-http.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/** Hostile requests at the HTTP and JSON-RPC layers: each gets a typed JSON-RPC refusal, never HTML. */
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};

describe('sidecar hardening', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  let token: string;
  let host: string;
  const headers = () => ({
    host,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
  });
  const post = (body: string | Buffer, extra: Record<string, string> = {}, path?: string) =>
    raw(gate.url, { body, headers: { ...headers(), ...extra }, ...(path ? { path } : {}) });
  const code = (response: RawResponse) =>
    (JSON.parse(response.body) as { error: { data: { portcullis: { code: string } } } }).error.data.portcullis
      .code;
  const toolsCall = (args: unknown, id = 1) =>
    JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'read_invoice', arguments: args },
    });

  beforeAll(async () => {
    upstream = await startHttpFixture('billing', { jsonResponse: true, stateless: true });
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
    });
    token = await gate.token(support);
    host = new URL(gate.url).host;
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('forwards a well-formed call (control)', async () => {
    const response = await post(toolsCall({ customer_id: 'acme', invoice_id: 'I-1' }));
    expect(response.status).toBe(200);
  });

  it.each([
    ['a foreign Host (DNS rebinding)', { host: 'evil.example.com' }, 'forbidden_host', 403],
    ['a Host that only starts like ours', { host: `${'127.0.0.1'}.evil.example.com` }, 'forbidden_host', 403],
    ['a foreign Origin', { origin: 'https://evil.example.com' }, 'forbidden_origin', 403],
    ['a text/plain body', { 'content-type': 'text/plain' }, 'unsupported_media_type', 415],
    [
      'an unsupported protocol revision',
      { 'mcp-protocol-version': '1999-01-01' },
      'unsupported_protocol_version',
      400,
    ],
    [
      'a mirrored method that disagrees with the body',
      { 'mcp-method': 'tools/list' },
      'header_mismatch',
      400,
    ],
    [
      'a mirrored tool name that disagrees with the body',
      { 'mcp-method': 'tools/call', 'mcp-name': 'list_invoices' },
      'header_mismatch',
      400,
    ],
  ])('refuses %s', async (_name, extra, expected, status) => {
    const response = await post(
      toolsCall({ customer_id: 'acme', invoice_id: 'I-1' }),
      extra as Record<string, string>,
    );
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(code(response)).toBe(expected);
  });

  it.each(['/mcp/', '/MCP', '/mcp%2F', '/mcp/../mcp', '//mcp', '/'])(
    'answers path %s with a JSON 404',
    async (path) => {
      const response = await post(toolsCall({}), {}, path);
      expect(response.status).toBe(404);
      expect(code(response)).toBe('not_found');
    },
  );

  it('answers other methods with 405 and Allow', async () => {
    const response = await raw(gate.url, { method: 'PUT', headers: headers(), body: '{}' });
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe('POST, GET, DELETE');
  });

  it('refuses an oversized body without buffering it, as JSON-RPC, and closes the connection', async () => {
    const response = await post(Buffer.alloc(2 * 1024 * 1024, 0x20));
    expect(response.status).toBe(413);
    expect(code(response)).toBe('body_too_large');
    expect(response.headers['connection']).toBe('close');
  });

  it.each([
    [
      'duplicate keys',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_invoice","arguments":{"customer_id":"acme","customer_id":"globex"}}}',
      'parse_error',
    ],
    [
      'escaped duplicate keys',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_invoice","name":"issue_refund"}}',
      'parse_error',
    ],
    [
      'a __proto__ key',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_invoice","arguments":{"__proto__":{"admin":true}}}}',
      'parse_error',
    ],
    ['trailing garbage', `${toolsCall({})}x`, 'parse_error'],
    ['not JSON-RPC 2.0', '{"jsonrpc":"1.0","id":1,"method":"tools/list"}', 'invalid_request'],
    ['arguments that are not an object', toolsCall(['acme']), 'invalid_request'],
    ['an empty batch', '[]', 'invalid_request'],
  ])('refuses %s', async (_name, body, expected) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(code(response)).toBe(expected);
  });

  it('refuses a whole batch that smuggles a forbidden call next to an allowed one', async () => {
    const before = gate.audit.events.length;
    const batch = JSON.stringify([
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'I-1' } },
      },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'issue_refund', arguments: { customer_id: 'acme', amount_cents: 99 } },
      },
    ]);
    const response = await post(batch, { 'mcp-protocol-version': '2025-03-26' });
    expect(response.status).toBe(403);
    expect(code(response)).toBe('batch_refused');
    const events = gate.audit.events.slice(before);
    expect(events.map((e) => [e.tool, e.decision])).toEqual([
      ['read_invoice', 'denied'],
      ['issue_refund', 'denied'],
    ]);
  });
});
