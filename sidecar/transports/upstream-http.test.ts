import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readBounded } from '../read-bounded.ts';
import { createHttpUpstream } from './upstream-http.ts';
import type { Upstream } from './upstream.ts';

/** A real server on loopback that records what it received. */
async function server(handle: (request: IncomingMessage, response: ServerResponse, body: string) => void) {
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const connections = new Set<unknown>();
  const http: Server = createServer((request, response) => {
    connections.add(request.socket);
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method, url: request.url, headers: request.headers, body });
      handle(request, response, body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/mcp?x=1`, port, seen, connections, http };
}

describe('the HTTP upstream (node:http)', () => {
  let upstream: Upstream | undefined;
  let http: Server | undefined;
  afterEach(async () => {
    await upstream?.close();
    http?.closeAllConnections();
    http?.close();
  });

  it('sends exactly the headers and body it is given, with Host from the URL, over one kept-alive connection', async () => {
    const s = await server((_request, response, body) => {
      response.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' });
      response.end(body);
    });
    http = s.http;
    upstream = createHttpUpstream(s.url);
    for (const text of ['{"a":1}', '{"b":"é"}']) {
      const body = Buffer.from(text);
      const answer = await upstream.send({
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'x-one': 'v' },
        body,
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['mcp-session-id']).toBe('s1');
      expect(((await readBounded(answer.body, 100)) as Buffer).toString()).toBe(text);
    }
    expect(s.seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/mcp?x=1', '{"a":1}'],
      ['POST', '/mcp?x=1', '{"b":"é"}'],
    ]);
    expect(s.seen[0]!.headers).toMatchObject({
      host: `127.0.0.1:${s.port}`,
      'x-one': 'v',
      'content-length': '7',
    });
    expect(s.connections.size).toBe(1);
  });

  it('refuses a header value that would split the request, before anything is sent', async () => {
    const s = await server((_request, response) => response.end());
    http = s.http;
    upstream = createHttpUpstream(s.url);
    await expect(
      upstream.send({ method: 'GET', headers: { 'x-bad': 'a\r\nx-evil: 1' } }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_CHAR',
    });
    expect(s.seen).toHaveLength(0);
  });

  it('aborts: before the answer the send rejects, during the body the body errors', async () => {
    const s = await server(() => undefined); // never answers
    http = s.http;
    upstream = createHttpUpstream(s.url);
    const early = new AbortController();
    const pending = upstream.send({
      method: 'POST',
      headers: { 'content-length': '2' },
      body: '{}',
      signal: early.signal,
    });
    setTimeout(() => early.abort(new Error('timeout')), 50);
    await expect(pending).rejects.toThrow('timeout');

    const streaming = await server((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('event: message\n\n');
    });
    const late = new AbortController();
    const second = createHttpUpstream(streaming.url);
    const answer = await second.send({ method: 'GET', headers: {}, signal: late.signal });
    late.abort(new Error('killed'));
    await expect(readBounded(answer.body, 1000)).rejects.toThrow();
    await second.close();
    streaming.http.closeAllConnections();
    streaming.http.close();

    const already = new AbortController();
    already.abort(new Error('gone'));
    await expect(upstream.send({ method: 'GET', headers: {}, signal: already.signal })).rejects.toThrow(
      'gone',
    );
  });
});
