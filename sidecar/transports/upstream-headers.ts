import type { Exchange } from '../exchange.ts';

/**
 * The headers the server container receives. Allow-list, not deny-list: the client's Authorization,
 * cookies, forwarding headers and anything else it sent are dropped, and identity context is added only
 * from verified claims. Host is set by the HTTP client from the upstream URL.
 */
const PASSED_THROUGH = [
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
];

export function upstreamHeaders(exchange: Exchange, bodyLength: number | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = exchange.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (bodyLength !== undefined) headers['content-length'] = String(bodyLength);
  headers['x-request-id'] = exchange.requestId;
  const principal = exchange.principal;
  if (principal && (exchange.policy?.bundle.spec.upstreamAuth.mode ?? 'None') === 'None') {
    headers['x-portcullis-user'] = encodeURIComponent(principal.user);
    headers['x-portcullis-agent'] = encodeURIComponent(principal.agent);
    if (principal.tenant !== undefined) headers['x-portcullis-tenant'] = encodeURIComponent(principal.tenant);
  }
  return headers;
}
