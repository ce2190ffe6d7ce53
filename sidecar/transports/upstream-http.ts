import { Pool } from 'undici';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream.ts';

/** A keep-alive connection pool to the server container's loopback endpoint. */
export function createHttpUpstream(url: string, options: { connections?: number } = {}): Upstream {
  const target = new URL(url);
  const pool = new Pool(target.origin, {
    connections: options.connections ?? 128,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const path = target.pathname + target.search;
  return {
    async send(request: UpstreamRequest): Promise<UpstreamResponse> {
      const response = await pool.request({
        path,
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        signal: request.signal ?? null,
      });
      // Aborting (timeout, kill, client gone) errors the body; the reader sees that error, and a body
      // nobody reads any more must not crash the process with an unhandled 'error' event.
      response.body.on('error', () => {});
      return {
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        cancel: () => response.body.destroy(),
      };
    },
    close: () => pool.close(),
  };
}
