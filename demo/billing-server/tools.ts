import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { findInvoice, formatAmount, invoicesOf } from './invoices.ts';

/** How long export_statements works: long enough for a second call to find the concurrency slot taken. */
export const EXPORT_MS = 2_000;

/** What the server learns about the caller: identity headers from the sidecar, never the token. */
export interface Caller {
  readonly user: string | undefined;
  readonly agent: string | undefined;
  readonly tenant: string | undefined;
  /** Whether any Authorization header reached the server (the sidecar never passes one on). */
  readonly sawAuthorization: boolean;
}

type Headers = Readonly<Record<string, string | string[] | undefined>> | undefined;

export function callerOf(headers: Headers): Caller {
  const header = (name: string) => {
    const value = headers?.[name];
    return typeof value === 'string' ? decodeURIComponent(value) : undefined;
  };
  return {
    user: header('x-portcullis-user'),
    agent: header('x-portcullis-agent'),
    tenant: header('x-portcullis-tenant'),
    sawAuthorization: headers?.['authorization'] !== undefined,
  };
}

const customerId = z.string().min(1).max(64).describe('The customer (tenant) the invoices belong to.');

/**
 * The demo billing server's tools. Each result has a line of text for a person and structured content
 * for a program; every result says who the server was told is calling.
 */
export function registerBillingTools(server: McpServer): void {
  server.registerTool(
    'list_invoices',
    {
      description: "Lists a customer's invoices.",
      inputSchema: { customer_id: customerId },
      annotations: { readOnlyHint: true },
    },
    ({ customer_id }, extra) => {
      const invoices = invoicesOf(customer_id).map(({ id, amountCents, status }) => ({
        id,
        amount: formatAmount(amountCents),
        status,
      }));
      return result(`${invoices.length} invoices of ${customer_id}`, {
        customer_id,
        invoices,
        caller: callerOf(extra.requestInfo?.headers),
      });
    },
  );

  server.registerTool(
    'read_invoice',
    {
      description: 'Reads one invoice of a customer.',
      inputSchema: { customer_id: customerId, invoice_id: z.string().min(1).max(64) },
      annotations: { readOnlyHint: true },
    },
    ({ customer_id, invoice_id }, extra) => {
      const invoice = findInvoice(customer_id, invoice_id);
      if (invoice === undefined) return failure(`no invoice ${invoice_id} of ${customer_id}`);
      return result(
        `${invoice.id} of ${customer_id}: ${formatAmount(invoice.amountCents)}, ${invoice.status}`,
        {
          invoice: { ...invoice, amount: formatAmount(invoice.amountCents) },
          caller: callerOf(extra.requestInfo?.headers),
        },
      );
    },
  );

  server.registerTool(
    'issue_refund',
    {
      description: 'Refunds an amount to a customer. Moves money.',
      inputSchema: { customer_id: customerId, amount_cents: z.int().positive().max(10_000_000) },
      annotations: { destructiveHint: true },
    },
    ({ customer_id, amount_cents }, extra) =>
      result(`refunded ${formatAmount(amount_cents)} to ${customer_id}`, {
        refund: { customer_id, amount: formatAmount(amount_cents), status: 'issued' },
        caller: callerOf(extra.requestInfo?.headers),
      }),
  );

  server.registerTool(
    'export_statements',
    {
      description: `Exports a customer's statements of one month. Slow: takes about ${EXPORT_MS / 1000} s.`,
      inputSchema: {
        customer_id: customerId,
        month: z
          .string()
          .regex(/^\d{4}-\d{2}$/)
          .describe('YYYY-MM'),
      },
      annotations: { readOnlyHint: true },
    },
    async ({ customer_id, month }, extra) => {
      // Stops when the call is cancelled (the client went away, or the sidecar's timeout fired).
      const finished = await sleep(EXPORT_MS, true, { signal: extra.signal }).catch(() => false);
      if (!finished) return failure('export cancelled');
      const rows = invoicesOf(customer_id).filter((invoice) => invoice.issued.startsWith(month)).length;
      return result(`exported ${rows} statements of ${customer_id} for ${month}`, {
        customer_id,
        month,
        rows,
        caller: callerOf(extra.requestInfo?.headers),
      });
    },
  );
}

function result(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

function failure(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
