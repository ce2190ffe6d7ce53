import { StringDecoder } from 'node:string_decoder';
import type { SidecarContext } from './context.ts';
import type { Exchange } from './exchange.ts';
import { maxResponseBytes } from './limits/response-size.ts';
import { readBounded, TOO_LARGE } from './read-bounded.ts';
import { createSseParser, formatSseEvent, KEEP_ALIVE_COMMENT } from './protocol/sse.ts';
import { handleReply, pendingReplies } from './reply-handlers.ts';
import { isJsonRpcAnswer, nonJsonRpcAnswer } from './upstream-answer.ts';
import type { UpstreamResponse } from './transports/upstream.ts';

/**
 * Streams the upstream's answer to the client. JSON bodies are read (bounded) so replies can be
 * handled; event streams are parsed event by event and re-emitted as they arrive, never buffered whole,
 * with keep-alive comments while the upstream is quiet.
 */
const RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'cache-control'];

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export type RelayOutcome = 'complete' | 'client_closed' | 'too_large' | 'upstream_error';

/**
 * When `signal` aborts mid-stream the response is left open, so the caller can still answer the
 * unanswered requests on it (a timeout or a kill switch is an error result, not a dropped connection).
 */
export async function relay(
  exchange: Exchange,
  context: SidecarContext,
  upstream: UpstreamResponse,
  signal: AbortSignal,
): Promise<RelayOutcome> {
  const { response } = exchange;
  const limit = maxResponseBytes(exchange.policy);
  const pending = pendingReplies(exchange);
  const sessionId = header(upstream.headers['mcp-session-id']);
  const contentType = header(upstream.headers['content-type'])?.toLowerCase() ?? '';
  const transform = (message: Record<string, unknown>) =>
    handleReply(message, pending, exchange, context, sessionId);

  const headers: Record<string, string> = { 'x-request-id': exchange.requestId };
  for (const name of RESPONSE_HEADERS) {
    const value = header(upstream.headers[name]);
    if (value !== undefined) headers[name] = value;
  }

  if (exchange.method === 'DELETE' && upstream.status < 300 && exchange.sessionId)
    context.sessions.forget(exchange.sessionId);

  if (contentType.startsWith('text/event-stream')) {
    return relayEventStream(exchange, context, upstream, headers, transform, limit, signal);
  }

  // JSON (or an error body): small by contract, read whole within the cap, then handled.
  const whole = await readBounded(upstream.body, limit);
  if (whole === TOO_LARGE) {
    upstream.cancel();
    return 'too_large';
  }
  let body = whole;
  const size = body.length;
  const isJson = contentType.startsWith('application/json') && size > 0;
  const parsed: unknown = isJson ? safeParse(body.toString('utf8')) : undefined;
  if (!isJsonRpcAnswer(upstream.status, contentType, size, parsed)) {
    const answer = nonJsonRpcAnswer(upstream.status, exchange.requestId);
    context.log.warn(
      { requestId: exchange.requestId, status: upstream.status, contentType: contentType.slice(0, 64) },
      'the MCP server answered without JSON-RPC',
    );
    response.writeHead(answer.status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(answer.body)),
    });
    response.end(answer.body);
    return 'complete';
  }
  if (isJson && pending.size > 0) {
    const replaced = Array.isArray(parsed)
      ? parsed.map((m) => (isObject(m) ? transform(m) : m))
      : isObject(parsed)
        ? transform(parsed)
        : parsed;
    if (replaced !== parsed || Array.isArray(parsed)) body = Buffer.from(JSON.stringify(replaced));
  }
  headers['content-length'] = String(body.length);
  response.writeHead(upstream.status, headers);
  response.end(body);
  return 'complete';
}

async function relayEventStream(
  exchange: Exchange,
  context: SidecarContext,
  upstream: UpstreamResponse,
  headers: Record<string, string>,
  transform: (message: Record<string, unknown>) => Record<string, unknown>,
  limit: number,
  signal: AbortSignal,
): Promise<RelayOutcome> {
  const { response } = exchange;
  headers['cache-control'] = 'no-cache, no-transform';
  headers['x-accel-buffering'] = 'no';
  response.writeHead(upstream.status, headers);
  response.flushHeaders();
  exchange.eventStream = true;

  let bytes = 0;
  let failure: RelayOutcome | undefined;
  const parser = createSseParser({
    onEvent(event) {
      let data = event.data;
      if (data !== '') {
        const message = safeParse(data);
        if (isObject(message)) {
          const replaced = transform(message);
          if (replaced !== message) data = JSON.stringify(replaced);
        }
      }
      response.write(formatSseEvent({ ...event, data }));
    },
    onError() {
      failure = 'upstream_error';
    },
  });
  const keepAlive = setInterval(
    () => response.write(KEEP_ALIVE_COMMENT),
    context.config.keepAliveSeconds * 1000,
  );
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of upstream.body) {
      if (response.destroyed) {
        upstream.cancel();
        return 'client_closed';
      }
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      bytes += Buffer.byteLength(text);
      if (bytes > limit) {
        upstream.cancel();
        failure = 'too_large';
        break;
      }
      parser.feed(text);
      if (failure) break;
    }
  } finally {
    clearInterval(keepAlive);
    // Cut for size: forward answers the unanswered calls on the stream, then ends it.
    if (!signal.aborted && failure !== 'too_large') response.end();
  }
  return failure ?? 'complete';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
