import type { ServerResponse } from 'node:http';
import type { Exchange } from './exchange.ts';
import { REJECT_TABLE, rejectionError, type Rejection } from './reject.ts';

/**
 * Writes a refusal: the HTTP status from the one table, and a JSON-RPC error body (never HTML) whose id
 * is the request's when there is exactly one request to answer.
 */
export function writeRejection(
  exchange: Exchange,
  rejection: Rejection,
  extraHeaders: Record<string, string> = {},
): void {
  const { response } = exchange;
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const spec = REJECT_TABLE[rejection.code];
  const requests = exchange.messages.filter((m) => m.kind === 'request');
  const id = !exchange.isBatch && requests.length === 1 ? (requests[0]!.id ?? null) : null;
  const body = JSON.stringify({ jsonrpc: '2.0', id, error: rejectionError(rejection, exchange.requestId) });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': exchange.requestId,
    ...extraHeaders,
  };
  if (spec.retryable && rejection.retryAfter !== undefined)
    headers['retry-after'] = String(rejection.retryAfter);
  // An unread or oversized body must not be parsed as the next request on this connection.
  if (rejection.code === 'body_too_large' || !exchange.request.complete) headers['connection'] = 'close';
  if (rejection.code === 'method_not_allowed') headers['allow'] = 'POST, GET, DELETE';
  writeJson(response, spec.httpStatus, headers, body);
}

export function writeJson(
  response: ServerResponse,
  status: number,
  headers: Record<string, string | number>,
  body: string,
): void {
  response.writeHead(status, headers);
  response.end(body);
}
