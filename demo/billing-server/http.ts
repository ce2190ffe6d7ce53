import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { registerBillingTools } from './tools.ts';

export const MCP_PATH = '/mcp';

/**
 * The demo billing MCP server over Streamable HTTP, stateless: every POST gets a fresh SDK server and
 * transport, so the server keeps nothing between calls (the sidecar does the sessions' bookkeeping).
 */
export function billingHttpServer(): Server {
  return createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: String(error) } }),
      );
    });
  });
}

async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (new URL(request.url ?? '/', 'http://billing').pathname !== MCP_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`the MCP endpoint is ${MCP_PATH}\n`);
    return;
  }
  if (request.method !== 'POST') {
    response
      .writeHead(405, { allow: 'POST', 'content-type': 'text/plain' })
      .end('stateless server: POST only\n');
    return;
  }
  const server = new McpServer({ name: 'demo-billing', version: '1.0.0' });
  registerBillingTools(server);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  response.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response);
}
