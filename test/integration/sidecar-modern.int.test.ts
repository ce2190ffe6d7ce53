import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { BILLING_AUDIENCE, portcullisCode, supportAgent } from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The 2026-07-28 revision through the sidecar, with raw HTTP (no SDK client speaks it yet): every
 * request carries MCP-Protocol-Version, mirrors its method and name in Mcp-Method / Mcp-Name, and
 * repeats the revision in params._meta. The upstream is a recorder, so each test can say exactly what
 * the sidecar let through; what a real server would then answer is not the sidecar's decision.
 */
const MODERN = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': MODERN };

const toolsCall = (name: string, args: Record<string, unknown>, id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args, _meta: META },
});
const mirrored = (method: string, name?: string) => ({
  'mcp-protocol-version': MODERN,
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
});
const base64Name = (name: string) => `=?base64?${Buffer.from(name, 'utf8').toString('base64')}?=`;

interface Answer {
  readonly status: number;
  readonly body: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; data?: { portcullis?: { code: string } } };
  };
}

describe('the 2026-07-28 revision through the sidecar', () => {
  let upstream: RecordingUpstream;
  let gate: SidecarUnderTest;
  let token: string;

  const post = async (body: unknown, headers: Record<string, string>): Promise<Answer> => {
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        ...headers,
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Answer['body']) };
  };
  /** Runs `send` and returns what reached the upstream meanwhile. */
  const forwarded = async <T>(send: () => Promise<T>) => {
    const before = upstream.requests.length;
    const answer = await send();
    return { answer, reached: upstream.requests.slice(before) };
  };

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
    token = await gate.token(supportAgent);
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('forwards an authorised call whose headers match its body, with the binding applied', async () => {
    const { answer, reached } = await forwarded(() =>
      post(
        toolsCall('read_invoice', { customer_id: 'globex', invoice_id: 'INV-1' }, 'req-1'),
        mirrored('tools/call', 'read_invoice'),
      ),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe('req-1');
    expect(answer.body.result?.['structuredContent']).toEqual({
      received: { customer_id: 'acme', invoice_id: 'INV-1' },
    });
    expect(reached).toHaveLength(1);
    expect(reached[0]!.headers).toMatchObject({
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': 'read_invoice',
      'x-portcullis-tenant': 'acme',
    });
    expect(reached[0]!.headers['authorization']).toBeUndefined();
    expect(reached[0]!.body).toMatchObject({ params: { _meta: META } });
  });

  it('accepts a tool name mirrored in the =?base64?…?= form', async () => {
    const { answer, reached } = await forwarded(() =>
      post(
        toolsCall('list_invoices', { customer_id: 'acme' }),
        mirrored('tools/call', base64Name('list_invoices')),
      ),
    );
    expect(answer.status).toBe(200);
    expect(reached).toHaveLength(1);
  });

  it('refuses a call the policy does not allow with 403 and its stable code, without forwarding it', async () => {
    const { answer, reached } = await forwarded(() =>
      post(
        toolsCall('issue_refund', { customer_id: 'acme', amount_cents: 5 }, 9),
        mirrored('tools/call', 'issue_refund'),
      ),
    );
    expect(answer.status).toBe(403);
    expect(answer.body.id).toBe(9);
    expect(answer.body.error?.code).toBe(-31010);
    expect(portcullisCode(answer.body)).toBe('no_matching_rule');
    expect(reached).toEqual([]);
  });

  const refund = toolsCall('issue_refund', { customer_id: 'acme', amount_cents: 5 });
  const read = toolsCall('read_invoice', { customer_id: 'acme', invoice_id: 'INV-1' });
  it.each([
    ['a header naming an allowed tool on a forbidden call', refund, mirrored('tools/call', 'read_invoice')],
    ['a method header that is not the body method', read, mirrored('tools/list', 'read_invoice')],
    ['no Mcp-Name on tools/call', read, mirrored('tools/call')],
    ['no Mcp-Method', read, { 'mcp-protocol-version': MODERN, 'mcp-name': 'read_invoice' }],
    [
      'a body revision other than the header',
      {
        ...read,
        params: { ...read.params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } },
      },
      mirrored('tools/call', 'read_invoice'),
    ],
    [
      'no revision in the body',
      { ...read, params: { name: 'read_invoice' } },
      mirrored('tools/call', 'read_invoice'),
    ],
    [
      'an Mcp-Name on a method that has no name',
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } },
      mirrored('tools/list', 'read_invoice'),
    ],
  ])(
    'refuses %s with 400 header_mismatch, before policy and without forwarding',
    async (_, body, headers) => {
      const { answer, reached } = await forwarded(() => post(body, headers));
      expect(answer.status).toBe(400);
      expect(answer.body.error?.code).toBe(-32020);
      expect(portcullisCode(answer.body)).toBe('header_mismatch');
      expect(reached).toEqual([]);
    },
  );

  it('refuses a JSON-RPC batch on 2026-07-28, and forwards one on 2025-03-26 (control)', async () => {
    const batch = [read, { ...read, id: 2 }];
    const modern = await forwarded(() => post(batch, mirrored('tools/call', 'read_invoice')));
    expect(modern.answer.status).toBe(400);
    expect(portcullisCode(modern.answer.body)).toBe('invalid_request');
    expect(modern.reached).toEqual([]);

    const legacy = await forwarded(() => post(batch, { 'mcp-protocol-version': '2025-03-26' }));
    expect(legacy.answer.status).toBe(200);
    expect(legacy.reached).toHaveLength(1);
  });

  it('does not ask notifications to mirror anything', async () => {
    const { answer, reached } = await forwarded(() =>
      post(
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: META } },
        { 'mcp-protocol-version': MODERN },
      ),
    );
    expect(answer.status).toBe(202);
    expect(reached).toHaveLength(1);
  });

  it('filters tools/list per caller and marks it cacheScope private when 2026-07-28 was declared', async () => {
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: META } };
    const modern = await post(list, mirrored('tools/list'));
    expect(modern.status).toBe(200);
    const names = (body: Answer['body']) =>
      (body.result?.['tools'] as { name: string }[]).map((t) => t.name).sort();
    expect(names(modern.body)).toEqual(['list_invoices', 'read_invoice', 'whoami']);
    expect(modern.body.result?.['cacheScope']).toBe('private');

    const legacy = await post(
      { jsonrpc: '2.0', id: 4, method: 'tools/list' },
      { 'mcp-protocol-version': '2025-06-18' },
    );
    expect(names(legacy.body)).toEqual(['list_invoices', 'read_invoice', 'whoami']);
    expect(legacy.body.result).not.toHaveProperty('cacheScope');
  });
});
