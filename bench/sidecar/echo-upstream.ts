// A minimal MCP responder for benchmarks: answers initialize, tools/list and tools/call with fixed JSON,
// so the measured difference between direct and proxied calls is the sidecar's, not an SDK's.
import { createServer } from 'node:http';
import { ECHO_TOOL } from './echo-tool.ts';

const port = Number(process.argv[2] ?? 0);
const tools = [ECHO_TOOL];

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (c: Buffer) => chunks.push(c));
  request.on('end', () => {
    // DELETE (session end), GET (event stream) and empty bodies: nothing to answer.
    if (request.method !== 'POST' || chunks.length === 0) {
      response.writeHead(request.method === 'GET' ? 405 : 200).end();
      return;
    }
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      id?: number;
      method: string;
      params?: { arguments?: unknown };
    };
    if (message.id === undefined) {
      response.writeHead(202).end();
      return;
    }
    const result =
      message.method === 'initialize'
        ? {
            protocolVersion: '2025-06-18',
            capabilities: { tools: {} },
            serverInfo: { name: 'echo', version: '1' },
          }
        : message.method === 'tools/list'
          ? { tools }
          : {
              content: [{ type: 'text', text: 'ok' }],
              structuredContent: { received: message.params?.arguments },
            };
    const body = JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
    response
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      .end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
