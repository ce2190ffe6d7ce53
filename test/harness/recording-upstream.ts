import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A raw JSON-RPC responder standing in for an MCP server, for what no SDK server answers yet (the
 * 2026-07-28 revision): it records every request that reaches it (headers and parsed body) and answers
 * initialize, tools/list (the billing tools) and tools/call (echoing the arguments) with plain JSON,
 * whatever the protocol revision. It is a recorder, not an MCP implementation.
 */
export interface RecordedRequest {
  readonly headers: IncomingHttpHeaders;
  /** Every header line as it arrived, name and value alternating (Node's rawHeaders). */
  readonly rawHeaders: readonly string[];
  /** The body's bytes as they arrived. */
  readonly raw: Buffer;
  readonly body: unknown;
}

export interface RecordingUpstream {
  /** http://127.0.0.1:<port>/mcp */
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

type Message = { id?: string | number; method?: string; params?: Record<string, unknown> };

const TOOLS = ['read_invoice', 'list_invoices', 'issue_refund', 'whoami'].map((name) => ({
  name,
  description: `The billing fixture's ${name}.`,
  inputSchema: { type: 'object' },
}));

function answer(message: Message): object {
  const { id, method, params } = message;
  if (method === 'initialize') {
    return {
      jsonrpc: '2.0',
      id,
      result: {
        protocolVersion: params?.['protocolVersion'] ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'recording-upstream', version: '1' },
      },
    };
  }
  if (method === 'tools/list') return { jsonrpc: '2.0', id, result: { tools: TOOLS } };
  if (method === 'tools/call') {
    const received = params?.['arguments'] ?? {};
    return {
      jsonrpc: '2.0',
      id,
      result: {
        content: [{ type: 'text', text: JSON.stringify(received) }],
        structuredContent: { received },
      },
    };
  }
  return { jsonrpc: '2.0', id, error: { code: -32601, message: `method not found: ${String(method)}` } };
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      const body: unknown = text === '' ? undefined : JSON.parse(text);
      requests.push({ headers: request.headers, rawHeaders: request.rawHeaders, raw, body });
      const messages = (Array.isArray(body) ? body : [body]) as Message[];
      const answers = messages.filter((m) => m?.id !== undefined).map(answer);
      if (answers.length === 0) {
        response.writeHead(202).end();
        return;
      }
      const json = JSON.stringify(Array.isArray(body) ? answers : answers[0]);
      response.writeHead(200, { 'content-type': 'application/json' }).end(json);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
