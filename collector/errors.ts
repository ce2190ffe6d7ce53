import type { ServerResponse } from 'node:http';

/**
 * The one table from a collector error code to its HTTP status. Codes are stable: shippers and readers
 * branch on them. The wire format is `{ "error": { "code": "...", "message": "..." } }`.
 *
 * 503s and 429s are retryable (the shipper keeps its WAL and tries again, after Retry-After); 4xx are
 * not, except 401 after the sidecar's token is rotated. 422 unstorable_event is final for one event: the
 * shipper records it as lost and ships the rest.
 */
export const COLLECTOR_ERRORS = {
  // Request shape
  malformed_batch: 400,
  invalid_header: 400,
  sidecar_mismatch: 400,
  seq_order: 400,
  empty_batch: 400,
  invalid_heartbeat: 400,
  invalid_query: 400,
  unsupported_media_type: 415,
  body_too_large: 413,
  // An event that can never be stored (too deep, too large, a time out of bounds): retrying cannot help,
  // so the shipper records it as lost (a gap) and moves on. The body names its seq.
  unstorable_event: 422,
  not_found: 404,
  method_not_allowed: 405,
  // Identity and authorization
  missing_token: 401,
  invalid_token: 401,
  identity_mismatch: 403,
  forbidden: 403,
  // Load: the in-flight byte budget is spent (http/byte-budget.ts); retry after Retry-After.
  busy: 429,
  // The client closed the request before it ended (an aborted upload): counted, never answered.
  client_aborted: 499,
  // Dependencies
  auth_unavailable: 503,
  store_unavailable: 503,
  shutting_down: 503,
  internal_error: 500,
} as const satisfies Record<string, number>;

export type CollectorErrorCode = keyof typeof COLLECTOR_ERRORS;

export class CollectorError extends Error {
  readonly code: CollectorErrorCode;
  /** unstorable_event: the seq of the event that can never be stored. */
  readonly seq?: number;
  /** 429 and 503: seconds the client should wait (Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(
    code: CollectorErrorCode,
    message: string,
    options?: { cause?: unknown; seq?: number; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = 'CollectorError';
    this.code = code;
    if (options?.seq !== undefined) this.seq = options.seq;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return COLLECTOR_ERRORS[this.code];
  }
}

export function errorBody(code: CollectorErrorCode, message: string, seq?: number): string {
  return JSON.stringify({ error: { code, message, ...(seq === undefined ? {} : { seq }) } });
}

/** Writes the error; a refused body that was not read must not be parsed as the next request. */
export function writeError(response: ServerResponse, error: CollectorError, closeConnection = false): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = errorBody(error.code, error.message, error.seq);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (error.status === 401) headers['www-authenticate'] = 'Bearer';
  if (error.status === 503 || error.status === 429) {
    headers['retry-after'] = String(error.retryAfterSeconds ?? 1);
  }
  if (closeConnection) headers['connection'] = 'close';
  response.writeHead(error.status, headers);
  response.end(body);
}

export function writeJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(body);
}
