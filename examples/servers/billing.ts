// The billing MCP server of examples/billing.yaml: Streamable HTTP on port 8080, path /mcp.
//
//   node dist/examples/servers/billing.js                        # in the examples image: 127.0.0.1:8080
//   node examples/servers/billing.ts --listen 127.0.0.1:0        # from a checkout, any free port
//
// Loopback by default: in the pod only the sidecar (same network namespace) talks to it. Outside a pod,
// `--listen 0.0.0.0:8080` exposes it directly, without the gate in front (PORT changes the port only).
//
// Prints one line {"url":"http://<host>:<port>/mcp"} once listening; stops on SIGTERM/SIGINT.
//
// Its tools are the ones the billing ToolPolicies talk about (read_invoice, list_invoices, issue_refund).
// Their definitions are constants, so their digests are stable and examples/billing.yaml can pin them;
// test/unit/example-servers.test.ts starts this file and fails when a pin no longer matches. The data
// is a fixed in-memory table: nothing here needs a database or a Secret, so `kubectl apply` is enough.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const MCP_PATH = '/mcp';

interface Invoice {
  readonly id: string;
  readonly customerId: string;
  readonly amountCents: number;
  readonly status: 'paid' | 'open' | 'overdue';
}

const INVOICES: readonly Invoice[] = [
  { id: 'INV-1001', customerId: 'acme', amountCents: 12_500, status: 'paid' },
  { id: 'INV-1002', customerId: 'acme', amountCents: 4_990, status: 'open' },
  { id: 'INV-2001', customerId: 'globex', amountCents: 250_000, status: 'overdue' },
  { id: 'INV-2002', customerId: 'globex', amountCents: 87_300, status: 'open' },
];

const customerId = z.string().min(1).max(64).describe('The customer (tenant) the invoices belong to.');
const invoiceId = z.string().min(1).max(64).describe('The invoice number, for example INV-1001.');

/** The server with its three tools; one per request (the server is stateless). */
function billingServer(): McpServer {
  const server = new McpServer({ name: 'portcullis-example-billing', version: '1.0.0' });

  server.registerTool(
    'list_invoices',
    {
      description: "Lists a customer's invoices.",
      inputSchema: { customer_id: customerId },
      annotations: { readOnlyHint: true },
    },
    ({ customer_id }) => {
      const invoices = INVOICES.filter((i) => i.customerId === customer_id).map(view);
      return result(`${invoices.length} invoice(s) of ${customer_id}`, { customer_id, invoices });
    },
  );

  server.registerTool(
    'read_invoice',
    {
      description: 'Reads one invoice of a customer.',
      inputSchema: { customer_id: customerId, invoice_id: invoiceId },
      annotations: { readOnlyHint: true },
    },
    ({ customer_id, invoice_id }) => {
      const invoice = INVOICES.find((i) => i.customerId === customer_id && i.id === invoice_id);
      if (invoice === undefined) return failure(`no invoice ${invoice_id} of ${customer_id}`);
      return result(`${invoice.id} of ${customer_id}: ${amount(invoice.amountCents)}, ${invoice.status}`, {
        invoice: view(invoice),
      });
    },
  );

  server.registerTool(
    'issue_refund',
    {
      description: 'Refunds an amount to a customer. Moves money.',
      inputSchema: {
        customer_id: customerId,
        amount_cents: z.int().positive().max(10_000_000).describe('The amount to refund, in cents.'),
        invoice_id: invoiceId.optional(),
      },
      annotations: { destructiveHint: true, idempotentHint: false },
    },
    ({ customer_id, amount_cents, invoice_id }) =>
      // An example: nothing is paid out. A real server would call its payment provider here.
      result(`refunded ${amount(amount_cents)} to ${customer_id}`, {
        refund: {
          customer_id,
          amount: amount(amount_cents),
          invoice_id: invoice_id ?? null,
          status: 'issued',
        },
      }),
  );

  return server;
}

function view({ id, amountCents, status }: Invoice) {
  return { id, amount: amount(amountCents), status };
}

function amount(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

function result(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

function failure(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** Every POST to /mcp gets a fresh server and transport: nothing is kept between calls. */
async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://billing').pathname;
  if (path === '/healthz') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (path !== MCP_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`the MCP endpoint is ${MCP_PATH}\n`);
    return;
  }
  if (request.method !== 'POST') {
    response
      .writeHead(405, { allow: 'POST', 'content-type': 'text/plain' })
      .end('stateless server: POST only\n');
    return;
  }
  const server = billingServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  response.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response);
}

const { values } = parseArgs({
  options: { listen: { type: 'string', default: `127.0.0.1:${process.env['PORT'] ?? '8080'}` } },
});
const colon = values.listen.lastIndexOf(':');
const host = values.listen.slice(0, colon);
const http = createServer((request, response) => {
  serve(request, response).catch((error: unknown) => {
    if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: String(error) } }),
    );
  });
});
http.listen({ host, port: Number(values.listen.slice(colon + 1)) }, () => {
  const { port } = http.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://${host}:${port}${MCP_PATH}` })}\n`);
});
const stop = () => {
  http.closeAllConnections();
  http.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
