import { isProtocolRevision } from '../protocol/headers.ts';
import type { Exchange } from '../exchange.ts';

const POST_ACCEPT = 'application/json, text/event-stream';

/**
 * The headers the server container receives, written by the sidecar from what it parsed and decided: no
 * header of the client's is copied as it came. The body is the sidecar's own UTF-8 JSON, so Content-Type
 * and Content-Length describe it, not the client's; the session, protocol revision and mirrored method
 * are the values earlier stages validated; Mcp-Name is passed only after check-protocol proved it equal
 * to the body. The client's Authorization, cookies, forwarding headers, charset, encodings and framing
 * never travel, and identity context is added only from verified claims. Host is set by the HTTP client
 * from the upstream URL.
 */
export function upstreamHeaders(exchange: Exchange, bodyLength: number | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  const client = exchange.headers;
  if (bodyLength !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(bodyLength);
    headers['accept'] = POST_ACCEPT;
  } else if (exchange.method === 'GET') {
    headers['accept'] = 'text/event-stream';
    const lastEventId = client['last-event-id'];
    if (typeof lastEventId === 'string') headers['last-event-id'] = lastEventId; // checked by check-route
  }
  if (exchange.sessionId !== undefined) headers['mcp-session-id'] = exchange.sessionId;
  const revision = client['mcp-protocol-version'];
  if (isProtocolRevision(revision)) headers['mcp-protocol-version'] = revision;
  const first = exchange.messages[0];
  if (client['mcp-method'] !== undefined && first?.method !== undefined) headers['mcp-method'] = first.method;
  const name = client['mcp-name'];
  if (typeof name === 'string' && exchange.messages.length === 1) headers['mcp-name'] = name;
  headers['x-request-id'] = exchange.requestId;
  const principal = exchange.principal;
  if (principal && (exchange.policy?.bundle.spec.upstreamAuth.mode ?? 'None') === 'None') {
    headers['x-portcullis-user'] = encodeURIComponent(principal.user);
    headers['x-portcullis-agent'] = encodeURIComponent(principal.agent);
    if (principal.tenant !== undefined) headers['x-portcullis-tenant'] = encodeURIComponent(principal.tenant);
  }
  return headers;
}
