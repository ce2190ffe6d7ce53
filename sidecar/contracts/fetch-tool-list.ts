import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { createSseParser } from '../protocol/sse.ts';
import type { Upstream, UpstreamResponse } from '../transports/upstream.ts';

/**
 * Reads the server's whole tool list over a session of the sidecar's own: initialize,
 * notifications/initialized, tools/list page by page, then DELETE. Clients' sessions are never used or
 * disturbed (their request ids, streams and event ids stay theirs). The session carries no identity
 * context: the list is what the server publishes to an anonymous caller of the gate.
 *
 * Everything is bounded: one deadline for the whole exchange, bytes per answer, pages, tools.
 */
export interface FetchToolListOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxPages?: number;
  readonly maxTools?: number;
  /** The revision offered in initialize; the server's answer decides. */
  readonly protocolVersion?: string;
}

export class ToolListFetchError extends Error {
  readonly code = 'tool_list_unavailable';
}

const DEFAULT_MAX_PAGES = 32;
const DEFAULT_MAX_TOOLS = 4096;
const OFFERED_REVISION = '2025-06-18';

type Json = Record<string, unknown>;

export async function fetchToolList(upstream: Upstream, options: FetchToolListOptions): Promise<unknown[]> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const requestId = `portcullis-contracts-${randomUUID()}`;
  let sessionId: string | undefined;
  let protocolVersion: string | undefined;
  let nextId = 1;

  const post = async (message: Json): Promise<UpstreamResponse> => {
    const body = JSON.stringify(message);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'content-length': String(Buffer.byteLength(body)),
      'x-request-id': requestId,
      'mcp-method': String(message['method']),
    };
    if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
    if (protocolVersion !== undefined) headers['mcp-protocol-version'] = protocolVersion;
    return upstream.send({ method: 'POST', headers, body, signal });
  };

  const request = async (method: string, params: Json): Promise<Json> => {
    const id = nextId++;
    const response = await post({ jsonrpc: '2.0', id, method, params });
    if (response.status >= 400) {
      response.cancel();
      throw new ToolListFetchError(`${method}: the server answered HTTP ${response.status}`);
    }
    const reply = await readReply(response, id, options.maxBytes);
    if (method === 'initialize') {
      const header = response.headers['mcp-session-id'];
      sessionId = Array.isArray(header) ? header[0] : header;
    }
    if ('error' in reply) {
      const error = reply['error'] as { message?: unknown } | undefined;
      throw new ToolListFetchError(`${method}: ${String(error?.message ?? 'error')}`.slice(0, 300));
    }
    const result = reply['result'];
    if (typeof result !== 'object' || result === null) throw new ToolListFetchError(`${method}: no result`);
    return result as Json;
  };

  try {
    const init = await request('initialize', {
      protocolVersion: options.protocolVersion ?? OFFERED_REVISION,
      capabilities: {},
      clientInfo: { name: 'portcullis-sidecar', version: '1' },
    });
    if (typeof init['protocolVersion'] === 'string') protocolVersion = init['protocolVersion'];
    const initialized = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    initialized.cancel();

    const tools: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < (options.maxPages ?? DEFAULT_MAX_PAGES); page++) {
      const result = await request('tools/list', cursor === undefined ? {} : { cursor });
      const items = result['tools'];
      if (!Array.isArray(items)) throw new ToolListFetchError('tools/list: the result has no tools array');
      tools.push(...items);
      if (tools.length > (options.maxTools ?? DEFAULT_MAX_TOOLS))
        throw new ToolListFetchError('tools/list: more tools than the sidecar tracks');
      const next = result['nextCursor'];
      if (typeof next !== 'string' || next === '') return tools;
      cursor = next;
    }
    throw new ToolListFetchError(`tools/list: more than ${options.maxPages ?? DEFAULT_MAX_PAGES} pages`);
  } catch (error) {
    if (error instanceof ToolListFetchError) throw error;
    throw new ToolListFetchError(`cannot read the tool list: ${(error as Error).message}`.slice(0, 300));
  } finally {
    if (sessionId !== undefined) {
      const headers: Record<string, string> = { 'mcp-session-id': sessionId, 'x-request-id': requestId };
      if (protocolVersion !== undefined) headers['mcp-protocol-version'] = protocolVersion;
      upstream
        .send({ method: 'DELETE', headers, signal: AbortSignal.timeout(2000) })
        .then((response) => response.cancel())
        .catch(() => undefined);
    }
  }
}

/** The JSON-RPC answer with this id, from a JSON body or the first matching event of a stream. */
async function readReply(response: UpstreamResponse, id: number, maxBytes: number): Promise<Json> {
  const header = response.headers['content-type'];
  const contentType = (Array.isArray(header) ? header[0] : header)?.toLowerCase() ?? '';
  let bytes = 0;
  const decoder = new StringDecoder('utf8');
  if (contentType.startsWith('text/event-stream')) {
    let found: Json | undefined;
    const parser = createSseParser({
      onEvent(event) {
        if (found !== undefined || event.data === '') return;
        const message = parseJson(event.data);
        if (isObject(message) && message['id'] === id && ('result' in message || 'error' in message))
          found = message;
      },
      maxEventSize: maxBytes,
    });
    try {
      for await (const chunk of response.body) {
        const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
        bytes += Buffer.byteLength(text);
        if (bytes > maxBytes) throw new ToolListFetchError('the answer is larger than the response limit');
        parser.feed(text);
        if (found !== undefined) return found;
        if (parser.failed) break;
      }
    } finally {
      response.cancel();
    }
    throw new ToolListFetchError('the stream ended without an answer');
  }
  let text = '';
  for await (const chunk of response.body) {
    const piece = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    bytes += Buffer.byteLength(piece);
    if (bytes > maxBytes) {
      response.cancel();
      throw new ToolListFetchError('the answer is larger than the response limit');
    }
    text += piece;
  }
  text += decoder.end();
  const parsed = parseJson(text);
  const message = Array.isArray(parsed) ? parsed.find((m) => isObject(m) && m['id'] === id) : parsed;
  if (!isObject(message)) throw new ToolListFetchError('the answer is not a JSON-RPC message');
  return message;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
