import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ExecutionLog } from './execution-log.ts';

/**
 * The contract's three tools on the SDK's high-level McpServer, registered the way the SDK's
 * documentation shows: zod shapes, so the SDK validates and hands the handler parsed arguments.
 * Each handler logs exactly what it received before it answers.
 */
export function contractServer(sdk: string, log: ExecutionLog): McpServer {
  const server = new McpServer({ name: sdk, version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes text back.', inputSchema: { text: z.string() } },
    (args) => {
      log.record('echo', args);
      return text(args.text);
    },
  );
  server.registerTool(
    'get_invoice',
    {
      description: 'Reads one invoice of one customer.',
      inputSchema: { customer_id: z.string(), invoice_id: z.string() },
    },
    (args) => {
      log.record('get_invoice', args);
      return text(JSON.stringify({ customer_id: args.customer_id, invoice_id: args.invoice_id }));
    },
  );
  server.registerTool(
    'send_email',
    {
      description: 'Sends an email (pretends to).',
      inputSchema: { to: z.string(), body: z.string() },
      annotations: { destructiveHint: true },
    },
    (args) => {
      log.record('send_email', args);
      return text('sent');
    },
  );
  return server;
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}
