import { REJECT_TABLE, reject, rejectionError } from './reject.ts';

/**
 * Whether an upstream's non-streaming answer is one the client can read as MCP: empty (202, a DELETE's
 * 200), or JSON-RPC in application/json. Servers do answer otherwise (an SDK that says `400 text/plain`
 * to a method it does not handle, a framework's HTML error page); the client then gets a JSON-RPC error
 * instead, so every answer through the sidecar is JSON-RPC. The server's HTTP status is kept for its own
 * refusals (a 405 to a GET tells a client there is no event stream); a 2xx that is not JSON-RPC is a bad
 * answer from the server: 502. `parsed` is the body as relay.ts parsed it (undefined when it is not JSON):
 * one parse serves this check and the reply handlers.
 */
export function isJsonRpcAnswer(
  status: number,
  contentType: string,
  bodyLength: number,
  parsed: unknown,
): boolean {
  if (bodyLength === 0) return status < 400;
  if (!contentType.startsWith('application/json')) return false;
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  return (
    messages.length > 0 &&
    messages.every(
      (m) => typeof m === 'object' && m !== null && (m as Record<string, unknown>)['jsonrpc'] === '2.0',
    )
  );
}

/** The JSON-RPC error that stands in for an answer that was not JSON-RPC; nothing of the server's body is repeated. */
export function nonJsonRpcAnswer(status: number, requestId: string): { status: number; body: string } {
  const rejection = reject(
    'upstream_refused',
    `the MCP server answered HTTP ${status} without a JSON-RPC message`,
  );
  const error = rejectionError(rejection, requestId);
  return {
    status: status >= 400 ? status : REJECT_TABLE.upstream_refused.httpStatus,
    body: JSON.stringify({ jsonrpc: '2.0', id: null, error }),
  };
}
