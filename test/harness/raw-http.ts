import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/**
 * HTTP clients that send what a test says, not what a well-behaved client would: for hostile requests to
 * the sidecar. `rawRequest` goes through node:http (it still frames the request itself); `rawExchange`
 * writes the request's bytes on a socket exactly as given (duplicate or conflicting headers, odd framing,
 * smuggling shapes) and reads the answer until the server closes the connection.
 */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface RawRequestOptions {
  readonly method?: string;
  readonly path?: string;
  /** An array value sends the header once per element. */
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string | Buffer;
}

export function rawRequest(url: string, options: RawRequestOptions): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'POST',
        path: options.path ?? target.pathname,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Status, headers and de-chunked body of the first response in `bytes`; status 0 when there is none. */
export function parseRawResponse(bytes: Buffer): RawResponse {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: bytes.toString('latin1') };
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Writes `bytes` to host:port and collects everything until the server closes the connection, `done`
 * says the answer is complete, or `timeoutMs` passes (then the socket is destroyed and what arrived is
 * returned).
 */
export function rawExchange(
  url: string,
  bytes: Buffer,
  options: { readonly timeoutMs?: number; readonly done?: (received: Buffer) => boolean } = {},
): Promise<Buffer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname, port: Number(target.port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.done?.(Buffer.concat(chunks))) socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the answer is still an answer.
      if (error.code === 'ECONNRESET' && chunks.length > 0) return;
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    // Written, not ended: a half-closed connection is a client gone away to Node's HTTP server, which
    // then abandons the request. Requests say `Connection: close`; the server ends the connection.
    socket.write(bytes);
  });
}
