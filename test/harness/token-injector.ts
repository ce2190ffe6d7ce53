import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP relay that adds `Authorization: Bearer <token>` to every request: it stands in for
 * a client that holds a token, for test clients (like the conformance suite) that cannot send one.
 * Bodies stream both ways unbuffered, so SSE and cancellation behave as without it.
 */
export interface TokenInjector {
  readonly url: string;
  close(): Promise<void>;
}

export async function startTokenInjector(target: string, token: () => string): Promise<TokenInjector> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const proxied = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host, authorization: `Bearer ${token()}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    proxied.on('error', () => res.destroy());
    res.on('close', () => proxied.destroy());
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
