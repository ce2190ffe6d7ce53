import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OTLP/HTTP receiver of one signal, JSON encoding only (what otelcol's otlp_http exporter sends with
 * `encoding: json`, and what the tests' collectors are configured for). Each export's parsed body goes to
 * `accept`, which records what it reads and throws on a malformed request: that answers 400, so a bad
 * export fails loudly instead of being recorded as nothing.
 */
export interface OtlpJsonReceiver {
  readonly url: string;
  close(): Promise<void>;
}

export async function startOtlpJsonReceiver(
  path: '/v1/logs' | '/v1/traces',
  accept: (body: unknown) => void,
): Promise<OtlpJsonReceiver> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (
        request.method !== 'POST' ||
        request.url !== path ||
        !request.headers['content-type']?.startsWith('application/json')
      ) {
        response.writeHead(404).end();
        return;
      }
      try {
        accept(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end((error as Error).message);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
