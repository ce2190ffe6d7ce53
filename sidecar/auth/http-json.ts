import { request } from 'undici';

export interface JsonFetchOptions {
  readonly timeoutMs: number;
  /** Discovery documents and key sets are small; a bound keeps a broken or hostile endpoint from filling memory. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

/** Fetches one JSON document with GET: HTTP 200 only, redirects not followed, bounded in time and size. */
export type JsonFetcher = (url: string, options: JsonFetchOptions) => Promise<unknown>;

export const fetchJson: JsonFetcher = async (url, { timeoutMs, maxBytes, signal }) => {
  const timeout = AbortSignal.timeout(Math.ceil(timeoutMs));
  const response = await request(url, {
    method: 'GET',
    headers: { accept: 'application/json, application/jwk-set+json' },
    signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  if (response.statusCode !== 200) {
    await response.body.dump({ limit: 0 });
    // A redirect is refused rather than followed: the keys must come from the configured origin.
    throw new Error(`HTTP ${response.statusCode}`);
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
