import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  StreamableHTTPServerTransport,
  type StreamableHTTPServerTransportOptions,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { contractServer } from './contract-tools.ts';
import type { ExecutionLog } from './execution-log.ts';

/**
 * Serves one POST the way the SDK's stateless examples do: a fresh McpServer and transport per
 * request (sessionIdGenerator undefined; the v1 transport refuses reuse in stateless mode), closed
 * with the response. `parsedBody` is the body a framework already parsed; undefined lets the
 * transport read the body itself.
 */
export async function serveStatelessPost(
  sdk: string,
  log: ExecutionLog,
  request: IncomingMessage,
  response: ServerResponse,
  parsedBody: unknown,
  transportOptions: Omit<StreamableHTTPServerTransportOptions, 'sessionIdGenerator'> = {},
): Promise<void> {
  const server = contractServer(sdk, log);
  const transport = new StreamableHTTPServerTransport({ ...transportOptions, sessionIdGenerator: undefined });
  response.on('close', () => {
    void transport.close();
    void server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(request, response, parsedBody);
  } catch (error) {
    process.stderr.write(`${sdk}: ${(error as Error).stack ?? String(error)}\n`);
    if (!response.headersSent) {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(jsonRpcError(-32603, 'Internal server error'));
    }
  }
}

/** What a stateless server answers to GET (no standalone stream) and DELETE (no session). */
export function refuseNonPost(response: ServerResponse): void {
  response.writeHead(405, { 'content-type': 'application/json', allow: 'POST' });
  response.end(jsonRpcError(-32000, 'Method not allowed: this server is stateless; POST only.'));
}

function jsonRpcError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
}
