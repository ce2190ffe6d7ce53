import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import type { SidecarUnderTest } from './sidecar-under-test.ts';

/**
 * Callers of the billing policy (test/fixtures/policies/billing) as token claims, and small helpers for
 * tests that talk to a sidecar under test with real SDK clients and real tokens.
 */
export const BILLING_AUDIENCE = 'https://billing.mcp.example.com/mcp';

/** May read invoices of their own tenant (support-reads-own-tenant). */
export const supportAgent = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
} as const;

/** Authenticated, but matched by no rule except the diagnostics one (whoami). */
export const outsider = {
  sub: 'mallory',
  azp: 'support-copilot',
  tenant_id: 'globex',
  groups: ['marketing'],
  scope: 'billing',
} as const;

/** An SDK client connected through the sidecar with a fresh token for `claims`. */
export async function connectAs(
  gate: SidecarUnderTest,
  claims: Record<string, unknown>,
  options: { readonly fetch?: FetchLike } = {},
): Promise<Client> {
  const token = await gate.token(claims);
  return connectHttpClient(gate.url, { headers: { authorization: `Bearer ${token}` }, ...options });
}

export function structured(result: unknown): Record<string, unknown> {
  return (result as { structuredContent: Record<string, unknown> }).structuredContent;
}

/** Probes until `accept` holds or the deadline passes; returns the last value either way. */
export { eventually } from './eventually.ts';

/** The stable refusal code in a JSON-RPC error body (or in an SDK error's message that quotes one). */
export function portcullisCode(body: unknown): string | undefined {
  const code = (body as { error?: { data?: { portcullis?: { code?: unknown } } } } | undefined)?.error?.data
    ?.portcullis?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One raw tools/call (no session, no SDK): for probes, load loops and crash tests. */
export async function rawToolCall(
  url: string,
  token: string,
  tool: string,
  args: Record<string, unknown> = {},
  id: number | string = 1,
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: tool, arguments: args },
    }),
  });
  return { status: response.status, body: await response.text() };
}

/** A raw tools/call's fate in one word: allowed, killed, or the status and the start of the body. */
export async function probeToolCall(
  url: string,
  token: string,
  tool: string,
  args: Record<string, unknown> = {},
): Promise<string> {
  const { status, body } = await rawToolCall(url, token, tool, args);
  if (status === 200) return 'allowed';
  return body.includes('"killed"') ? 'killed' : `${status} ${body.slice(0, 300)}`;
}
