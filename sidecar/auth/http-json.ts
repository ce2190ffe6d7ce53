import { request, type Dispatcher } from 'undici';

export interface JsonFetchOptions {
  readonly timeoutMs: number;
  /** Discovery documents and key sets are small; a bound keeps a broken or hostile endpoint from filling memory. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  /** Connections with the identity provider's trust (see idp-trust.ts); default: undici's global dispatcher. */
  readonly dispatcher?: Dispatcher;
}

/**
 * Why a fetch failed, as a bounded label for metrics and logs: tls (certificate not trusted, expired,
 * wrong name), unreachable (refused, no route, DNS, reset), timeout, http (a status other than 200), or
 * invalid (not JSON, too large, a document that does not fit).
 */
export type FetchFailureKind = 'tls' | 'unreachable' | 'timeout' | 'http' | 'invalid';

/** Thrown for a status other than 200. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
}

const TLS_CODE = /CERT|SSL|TLS|EPROTO|UNABLE_TO|SELF_SIGNED|ALTNAME/;
const NETWORK_CODE =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/;
const TIMEOUT_CODE = /^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT)$/;

/** Classifies a fetch error, following `cause` (discovery wraps the errors of its attempts). */
export function fetchFailureKind(error: unknown): FetchFailureKind {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TLS_CODE.test(code)) return 'tls';
      if (NETWORK_CODE.test(code)) return 'unreachable';
      if (TIMEOUT_CODE.test(code)) return 'timeout';
    }
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
    if (e instanceof HttpStatusError) return 'http';
  }
  return 'invalid';
}

/** Fetches one JSON document with GET: HTTP 200 only, redirects not followed, bounded in time and size. */
export type JsonFetcher = (url: string, options: JsonFetchOptions) => Promise<unknown>;

export const fetchJson: JsonFetcher = async (url, { timeoutMs, maxBytes, signal, dispatcher }) => {
  const timeout = AbortSignal.timeout(Math.ceil(timeoutMs));
  const response = await request(url, {
    method: 'GET',
    headers: { accept: 'application/json, application/jwk-set+json' },
    signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    ...(dispatcher ? { dispatcher } : {}),
  });
  if (response.statusCode !== 200) {
    await response.body.dump({ limit: 0 });
    // A redirect is refused rather than followed: the keys must come from the configured origin.
    throw new HttpStatusError(`HTTP ${response.statusCode}`);
  }
  const declared = Number(response.headers['content-length']);
  if (declared > maxBytes) {
    await response.body.dump({ limit: 0 });
    throw new Error(`response larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Throwing out of for-await destroys the body, which closes the connection.
    if (size > maxBytes) {
      throw new Error(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new Error('response is not JSON');
  }
};
