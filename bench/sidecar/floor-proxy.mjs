// The runtime's floor for make bench-sidecar: the least a Node process can do as a hop in front of the
// upstream. It reads each request to its end, sends the same bytes on a keep-alive node:http agent and
// relays the answer: no token, no policy, no audit, no metrics, no parsing. Whatever this costs in added
// latency and memory on the same machine, in the same run, no Node sidecar can go below; the gap between it
// and the `pod` configuration is what the gate itself costs. Not a product: bench only.
// Plain JavaScript: a .ts file would make Node load its type stripper, which the floor must not count.
//   node [flags] bench/sidecar/floor-proxy.mjs UPSTREAM_URL   prints {"port":N}, exits when stdin ends
import { Agent, createServer, request as httpRequest } from 'node:http';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { URL } from 'node:url';

const upstream = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((incoming, outgoing) => {
  const chunks = [];
  incoming.on('data', (chunk) => chunks.push(chunk));
  incoming.on('end', () => {
    const body = Buffer.concat(chunks);
    const forwarded = httpRequest(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname,
        method: incoming.method,
        headers: {
          'content-type': incoming.headers['content-type'] ?? 'application/json',
          accept: incoming.headers['accept'] ?? '*/*',
          'content-length': body.length,
        },
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, {
          'content-type': answer.headers['content-type'] ?? 'application/json',
          ...(answer.headers['content-length'] ? { 'content-length': answer.headers['content-length'] } : {}),
        });
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.writeHead(502).end());
    forwarded.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
