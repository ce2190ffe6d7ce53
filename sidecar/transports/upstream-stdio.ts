import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import { startStdioProcess, type StdioProcess } from './stdio-process.ts';
import { connectStdioSocket } from './stdio-socket.ts';
import type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream.ts';

/**
 * Presents one shared stdio MCP server as a Streamable HTTP upstream. The process is initialised once;
 * later clients get the cached initialize result and a session id of their own. Request ids (and
 * progress tokens) are rewritten to ids unique on the process, so concurrent clients never collide, and
 * restored on the way back. Server-initiated notifications without a request (list_changed, logging)
 * go to every open GET stream. Server-to-client requests (sampling, elicitation) cannot be routed to
 * one client of a shared process and are answered with an error.
 */
type Json = Record<string, unknown>;

interface Waiter {
  readonly clientId: string | number;
  readonly session: string;
  readonly progressToken?: string | number;
  readonly deliver: (message: Json) => void;
  /** The client cancelled: no answer will come, so nothing may keep waiting for one. */
  readonly abandon: () => void;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream' };

function response(
  status: number,
  headers: Record<string, string>,
  body: string | PassThrough,
  cancel: () => void = () => {},
): UpstreamResponse {
  const iterable =
    typeof body === 'string'
      ? (async function* () {
          if (body) yield body;
        })()
      : body;
  return { status, headers, body: iterable as AsyncIterable<string | Buffer>, cancel };
}

/** A stdio server's channel: a process spawned here (file mode) or the pod's bridge socket. */
export type StdioTarget =
  | { readonly command: readonly string[]; readonly env?: Readonly<Record<string, string>> }
  | { readonly socket: string };

export function createStdioUpstream(
  target: StdioTarget | readonly string[],
  options: { log: Logger; env?: Readonly<Record<string, string>> },
): Upstream {
  const spec: StdioTarget = Array.isArray(target)
    ? { command: target as readonly string[], ...(options.env ? { env: options.env } : {}) }
    : (target as StdioTarget);
  const proc: StdioProcess =
    'socket' in spec
      ? connectStdioSocket(spec.socket, options.log)
      : startStdioProcess(spec.command, options.log, spec.env);
  const waiters = new Map<string, Waiter>();
  const progressRoutes = new Map<string, { session: string; token: string | number }>();
  const sessions = new Set<string>();
  const streams = new Set<PassThrough>();
  let initialize: Promise<Json> | undefined;
  let initializedSent = false;
  let counter = 0;
  /** The initialize request that first succeeded, replayed to a restarted process (it forgot it). */
  let handshake: Json | undefined;
  /** Settles when the replayed handshake is done; nothing else may reach the process before it. */
  let replaying: Promise<void> | undefined;

  proc.onExit(() => {
    initialize = undefined;
    initializedSent = false;
    replaying = undefined;
    progressRoutes.clear();
    for (const [id, waiter] of waiters) {
      waiters.delete(id);
      waiter.deliver({
        jsonrpc: '2.0',
        id: waiter.clientId,
        error: { code: -32603, message: 'the MCP server process exited' },
      });
    }
  });

  proc.onMessage((message) => {
    const id = message['id'];
    if ((typeof id === 'string' || typeof id === 'number') && ('result' in message || 'error' in message)) {
      const waiter = waiters.get(String(id));
      if (!waiter) return;
      waiters.delete(String(id));
      if (waiter.progressToken !== undefined) progressRoutes.delete(`p${String(id)}`);
      waiter.deliver({ ...message, id: waiter.clientId });
      return;
    }
    if (typeof message['method'] !== 'string') return;
    if (id !== undefined) {
      proc.send({
        jsonrpc: '2.0',
        id,
        error: {
          code: -32601,
          message: 'server-to-client requests are not available through a shared stdio bridge',
        },
      });
      return;
    }
    const params = message['params'] as Json | undefined;
    const token = params?.['progressToken'];
    if (message['method'] === 'notifications/progress' && typeof token === 'string') {
      const route = progressRoutes.get(token);
      const waiter = route && waiters.get(token.slice(1));
      if (route && waiter) waiter.deliver({ ...message, params: { ...params, progressToken: route.token } });
      return;
    }
    for (const stream of streams) stream.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  });

  function call(
    message: Json,
    session: string,
    onMessage: (m: Json) => void,
    onAbandon: () => void = () => {},
  ): void {
    const upstreamId = `u${++counter}`;
    const params = message['params'] as Json | undefined;
    const meta = params?.['_meta'] as Json | undefined;
    const clientToken = meta?.['progressToken'];
    let forwarded: Json = { ...message, id: upstreamId };
    if (typeof clientToken === 'string' || typeof clientToken === 'number') {
      const token = `p${upstreamId}`;
      progressRoutes.set(token, { session, token: clientToken });
      forwarded = { ...forwarded, params: { ...params, _meta: { ...meta, progressToken: token } } };
    }
    waiters.set(upstreamId, {
      clientId: message['id'] as string | number,
      session,
      ...(typeof clientToken === 'string' || typeof clientToken === 'number'
        ? { progressToken: clientToken }
        : {}),
      deliver: onMessage,
      abandon: onAbandon,
    });
    if (!proc.send(forwarded)) {
      waiters.delete(upstreamId);
      onMessage({
        jsonrpc: '2.0',
        id: message['id'],
        error: { code: -32603, message: 'the MCP server process is not running' },
      });
    }
  }

  function cancelClientRequest(session: string, clientId: unknown, reason?: unknown): void {
    for (const [upstreamId, waiter] of waiters) {
      if (waiter.session === session && waiter.clientId === clientId) {
        proc.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          // The client's own reason, as the server would have seen it without the bridge.
          params: { requestId: upstreamId, reason: typeof reason === 'string' ? reason : 'client cancelled' },
        });
        waiters.delete(upstreamId);
        progressRoutes.delete(`p${upstreamId}`);
        waiter.abandon();
      }
    }
  }

  async function handleInitialize(message: Json): Promise<UpstreamResponse> {
    initialize ??= new Promise<Json>((resolve) => call(message, '', resolve));
    const result = await initialize;
    if ('error' in result) initialize = undefined;
    else handshake ??= message;
    const session = randomUUID();
    sessions.add(session);
    return response(
      200,
      { ...JSON_HEADERS, 'mcp-session-id': session },
      JSON.stringify({ ...result, id: message['id'] }),
    );
  }

  /**
   * Sessions outlive a process restart, but the new process was never initialized, and servers may
   * refuse anything before initialize + notifications/initialized. Replays the first client's
   * handshake once per process; the caller waits for it before sending anything else.
   */
  function replayHandshake(): Promise<void> | undefined {
    if (initialize === undefined && handshake !== undefined) {
      const pending = new Promise<Json>((resolve) => call(handshake!, '', resolve));
      initialize = pending;
      replaying = pending.then((result) => {
        if ('error' in result) {
          if (initialize === pending) initialize = undefined;
        } else if (!initializedSent) {
          initializedSent = proc.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        }
      });
    }
    return replaying;
  }

  async function post(request: UpstreamRequest): Promise<UpstreamResponse> {
    const session = request.headers['mcp-session-id'];
    const body = JSON.parse(String(request.body)) as Json | Json[];
    const messages = Array.isArray(body) ? body : [body];
    if (messages.length === 1 && messages[0]!['method'] === 'initialize')
      return handleInitialize(messages[0]!);
    if (session === undefined || !sessions.has(session)) {
      return response(
        404,
        JSON_HEADERS,
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'session not found' } }),
      );
    }
    const replay = replayHandshake();
    if (replay) await replay;
    const requests = messages.filter((m) => m['id'] !== undefined && typeof m['method'] === 'string');
    for (const note of messages.filter((m) => m['id'] === undefined && typeof m['method'] === 'string')) {
      if (note['method'] === 'notifications/initialized') {
        if (!initializedSent) initializedSent = proc.send(note);
      } else if (note['method'] === 'notifications/cancelled') {
        const params = note['params'] as Json | undefined;
        cancelClientRequest(session, params?.['requestId'], params?.['reason']);
      } else {
        proc.send(note);
      }
    }
    if (requests.length === 0) return response(202, {}, '');
    const stream = new PassThrough();
    // The stream ends once every request in it was answered or cancelled: a cancelled request gets no
    // answer, and waiting for one would hold the client's connection until the call timeout.
    let open = requests.length;
    const settle = () => {
      open -= 1;
      if (open === 0 && !stream.writableEnded) stream.end();
    };
    for (const message of requests) {
      call(
        message,
        session,
        (reply) => {
          if (stream.writableEnded) return;
          stream.write(`event: message\ndata: ${JSON.stringify(reply)}\n\n`);
          if ('result' in reply || 'error' in reply) settle();
        },
        settle,
      );
    }
    const cancel = () => {
      for (const message of requests) cancelClientRequest(session, message['id']);
      if (!stream.writableEnded) stream.end();
    };
    request.signal?.addEventListener('abort', cancel, { once: true });
    return response(200, SSE_HEADERS, stream, cancel);
  }

  return {
    async send(request) {
      const session = request.headers['mcp-session-id'];
      if (request.method === 'POST') return post(request);
      if (session === undefined || !sessions.has(session))
        return response(
          404,
          JSON_HEADERS,
          '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"session not found"}}',
        );
      if (request.method === 'DELETE') {
        sessions.delete(session);
        return response(200, {}, '');
      }
      const stream = new PassThrough();
      streams.add(stream);
      const close = () => {
        streams.delete(stream);
        stream.end();
      };
      request.signal?.addEventListener('abort', close, { once: true });
      return response(200, SSE_HEADERS, stream, close);
    },
    close: () => proc.close(),
  };
}
