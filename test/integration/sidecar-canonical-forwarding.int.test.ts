import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseRawResponse, rawExchange, rawRequest, type RawResponse } from '../harness/raw-http.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { BILLING_AUDIENCE, eventually, portcullisCode, supportAgent } from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * What the gate authorizes is exactly what the server receives: the upstream gets a body the sidecar
 * serialized from what it parsed and decided, with headers the sidecar wrote, and anything the sidecar
 * cannot read one way only (charsets, encodings, invalid UTF-8, methods that could be read as others)
 * is refused before it reaches the server. The recording upstream keeps every byte that arrived.
 */
describe('canonical forwarding', () => {
  let upstream: RecordingUpstream;
  let gate: SidecarUnderTest;
  let token: string;
  let host: string;

  const headers = (extra: Record<string, string | string[]> = {}) => ({
    host,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    ...extra,
  });
  const post = (body: string | Buffer, extra: Record<string, string | string[]> = {}, path?: string) =>
    rawRequest(gate.url, { body, headers: headers(extra), ...(path ? { path } : {}) });
  const call = (name: string, args: Record<string, unknown> = {}, id: number | string = 1) =>
    JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
  const refusedWith = (response: RawResponse, status: number, code: string) => {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/json');
    expect(portcullisCode(JSON.parse(response.body))).toBe(code);
  };

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
    token = await gate.token(supportAgent);
    host = new URL(gate.url).host;
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });
  beforeEach(() => {
    upstream.requests.length = 0;
  });

  describe('refuses before the server sees anything', () => {
    it('the UTF-7 finding: a charset=utf-7 body naming tools/call in UTF-7', async () => {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/+AGMAYQBsAGw-',
        params: { name: 'issue_refund', arguments: { customer_id: 'acme', amount_cents: 1 } },
      });
      const response = await post(body, { 'content-type': 'application/json; charset=utf-7' });
      refusedWith(response, 415, 'unsupported_media_type');
      expect(upstream.requests).toHaveLength(0);
      const refusal = gate.audit.events.find((e) => e.code === 'unsupported_media_type');
      expect(refusal?.decision).toBe('denied');
    });

    it.each([
      ['charset=utf-16', 'application/json; charset=utf-16'],
      ['charset=iso-8859-1', 'application/json; charset=ISO-8859-1'],
      ['an unknown parameter', 'application/json; profile=x'],
      ['a different type', 'text/json'],
    ])('a body declared with %s', async (_name, type) => {
      const response = await post(call('read_invoice', { invoice_id: 'I-1' }), { 'content-type': type });
      refusedWith(response, 415, 'unsupported_media_type');
      expect(upstream.requests).toHaveLength(0);
    });

    it('a compressed body (Content-Encoding: gzip)', async () => {
      const response = await post(call('read_invoice', { invoice_id: 'I-1' }), {
        'content-encoding': 'gzip',
      });
      refusedWith(response, 415, 'unsupported_media_type');
      expect(upstream.requests).toHaveLength(0);
    });

    it.each([
      ['invalid UTF-8', Buffer.from([0xff])],
      ['an overlong "/" (C0 AF)', Buffer.from([0xc0, 0xaf])],
      ['a UTF-8-encoded surrogate (CESU)', Buffer.from([0xed, 0xa0, 0x80])],
      ['a Latin-1 byte', Buffer.from([0xe9])],
    ])('%s inside a string', async (_name, bytes) => {
      const [before, after] = call('read_invoice', { invoice_id: 'I-X' }).split('X');
      const body = Buffer.concat([Buffer.from(before!), bytes, Buffer.from(after!)]);
      refusedWith(await post(body), 400, 'parse_error');
      expect(upstream.requests).toHaveLength(0);
    });

    it('a UTF-8 byte order mark', async () => {
      const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(call('read_invoice'))]);
      refusedWith(await post(body), 400, 'parse_error');
    });

    it('a UTF-16 body', async () => {
      refusedWith(await post(Buffer.from(call('read_invoice'), 'utf16le')), 400, 'parse_error');
    });

    it('an escaped lone surrogate in a tool argument', async () => {
      refusedWith(
        await post(call('read_invoice').replace('{}', '{"invoice_id":"\\ud800"}')),
        400,
        'parse_error',
      );
    });

    it.each(['tools/call', 'resources/read', 'prompts/get', 'initialize'])(
      '%s sent as a notification (no id), alone and in a batch',
      async (method) => {
        const notification = { jsonrpc: '2.0', method, params: { name: 'issue_refund', arguments: {} } };
        refusedWith(await post(JSON.stringify(notification)), 400, 'invalid_request');
        const batch = [{ jsonrpc: '2.0', id: 1, method: 'ping' }, notification];
        const response = await post(JSON.stringify(batch), { 'mcp-protocol-version': '2025-03-26' });
        refusedWith(response, 400, 'invalid_request');
        expect(upstream.requests).toHaveLength(0);
      },
    );

    it.each([
      'Tools/Call',
      'TOOLS/CALL',
      'tools/call ',
      'tools/ｃａｌｌ',
      'tools/cal\u017f',
      'tools/execute',
    ])('a method that could be read as a known one: %j', async (method) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { name: 'issue_refund' } });
      refusedWith(await post(body), 400, 'invalid_request');
      expect(upstream.requests).toHaveLength(0);
    });

    it.each(['issue\u0130refund', 'issue_refund\u0000', ' issue_refund', 'x'.repeat(129)])(
      'a tool name outside visible ASCII or too long: %j',
      async (name) => {
        refusedWith(await post(call(name)), 400, 'invalid_request');
        expect(upstream.requests).toHaveLength(0);
      },
    );

    it.each(['content-type', 'mcp-protocol-version', 'mcp-method'])(
      'a request carrying %s twice',
      async (name) => {
        const value = name === 'content-type' ? 'application/json' : '2025-06-18';
        const extra = { [name]: [value, name === 'mcp-method' ? 'tools/call' : value] };
        refusedWith(await post(call('read_invoice'), extra), 400, 'invalid_request');
        expect(upstream.requests).toHaveLength(0);
      },
    );

    it('a token placed in the path is never echoed, logged or audited', async () => {
      const secret = 'eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXBhdGgtdG9rZW4.c2lnbmF0dXJl';
      const response = await post(call('read_invoice'), {}, `/mcp/${secret}`);
      refusedWith(response, 404, 'not_found');
      expect(response.body).toMatch(/unknown path \(sha256:[0-9a-f]{12}\)/);
      expect(response.body).not.toContain(secret);
      expect(JSON.stringify(gate.audit.events)).not.toContain(secret);
      expect(gate.logs.join('')).not.toContain(secret);
    });

    it('bounds a hostile Host and Origin in what it answers', async () => {
      const long = `${'h'.repeat(5000)}.example.com`;
      const response = await post(call('read_invoice'), { host: long });
      refusedWith(response, 403, 'forbidden_host');
      expect(response.body.length).toBeLessThan(1000);
      const origin = await post(call('read_invoice'), { origin: `https://${long}` });
      refusedWith(origin, 403, 'forbidden_origin');
      expect(origin.body.length).toBeLessThan(1000);
    });
  });

  describe('forwards what it decided, in its own form', () => {
    it('re-serializes an allowed call: escapes, spacing and number forms do not travel', async () => {
      const spelled =
        '{ "jsonrpc" : "2.0", "id" : 1.0e0, "method" : "tools\\/c\\u0061ll", "params" : { "name" : ' +
        '"read_\\u0069nvoice", "arguments" : { "invoice_id" : "I-\\u0031", "customer_id": "globex" } } }';
      const response = await post(spelled, { 'content-type': 'Application/JSON; Charset="UTF-8"' });
      expect(response.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      const [received] = upstream.requests;
      const expected = {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        // The Force binding put the caller's tenant in place of the one it asked for.
        params: { name: 'read_invoice', arguments: { invoice_id: 'I-1', customer_id: 'acme' } },
      };
      expect(received!.raw.toString('utf8')).toBe(JSON.stringify(expected));
      const allowed = gate.audit.events.find((e) => e.decision === 'allowed' && e.tool === 'read_invoice');
      expect(allowed?.arguments ?? expected.params.arguments).toEqual(expected.params.arguments);
    });

    it('writes the upstream headers itself: exact media type, own length, none of the client extras', async () => {
      const response = await post(call('read_invoice', { invoice_id: 'I-2' }), {
        'content-type': 'application/json; charset=utf-8',
        cookie: 'session=abc',
        'x-forwarded-for': '10.0.0.1',
        'x-custom': 'smuggled',
        accept: 'application/json, text/event-stream, */*;q=0.1',
        'mcp-protocol-version': '2025-06-18',
      });
      expect(response.status).toBe(200);
      const [received] = upstream.requests;
      const names = received!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(names.sort()).toEqual(
        [
          'accept',
          'connection',
          'content-length',
          'content-type',
          'host',
          'mcp-protocol-version',
          'x-portcullis-agent',
          'x-portcullis-tenant',
          'x-portcullis-user',
          'x-request-id',
        ].sort(),
      );
      expect(received!.headers['content-type']).toBe('application/json');
      expect(received!.headers['accept']).toBe('application/json, text/event-stream');
      expect(Number(received!.headers['content-length'])).toBe(received!.raw.length);
      expect(received!.headers['authorization']).toBeUndefined();
    });

    it('sends its own length framing whatever framing the client chose (chunked in, length out)', async () => {
      const body = call('read_invoice', { invoice_id: 'I-3' });
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const request = Buffer.from(
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nAuthorization: Bearer ${token}\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
      );
      const answer = await rawExchange(gate.url, request);
      const response = parseRawResponse(answer);
      expect(response.status, answer.toString('latin1')).toBe(200);
      const [received] = upstream.requests;
      expect(received!.headers['transfer-encoding']).toBeUndefined();
      expect(Number(received!.headers['content-length'])).toBe(received!.raw.length);
    });

    it('refuses a request whose framing is ambiguous (Content-Length with Transfer-Encoding)', async () => {
      const body = call('read_invoice', { invoice_id: 'I-4' });
      const request = Buffer.from(
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}`,
      );
      const response = parseRawResponse(await rawExchange(gate.url, request));
      expect(response.status).toBe(400);
      expect(upstream.requests).toHaveLength(0);
    });

    it('refuses extension methods once the server says it forwards none', async () => {
      const file = join(gate.policyDir, 'server.yaml');
      const original = await readFile(file, 'utf8');
      const body = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'acme.example/reindex', params: {} });
      try {
        await writeFile(
          file,
          original.replace(/^spec:\n/m, 'spec:\n  protocol:\n    extensionMethods: Refuse\n'),
        );
        const refused = await eventually(
          () => post(body),
          (r) => r.status === 400,
        );
        refusedWith(refused, 400, 'invalid_request');
        upstream.requests.length = 0; // probes sent before the reload were forwarded
        refusedWith(await post(body), 400, 'invalid_request');
        expect(upstream.requests).toHaveLength(0);
      } finally {
        await writeFile(file, original);
      }
      const forwarded = await eventually(
        () => post(body),
        (r) => r.status === 200,
      );
      expect(forwarded.status).toBe(200);
    });

    it('forwards an extension method outside MCP namespaces as written', async () => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'acme.example/reindex', params: {} });
      const response = await post(body);
      expect(response.status).toBe(200);
      expect(upstream.requests.map((r) => (r.body as { method: string }).method)).toEqual([
        'acme.example/reindex',
      ]);
    });
  });
});
