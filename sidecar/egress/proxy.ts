import { randomUUID } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { LoadedPolicy } from '../../policy/load.ts';
import type { AuditDecision, AuditEvent } from '../audit/event.ts';
import type { AuditSink } from '../audit/sink.ts';
import type { PolicyHolder } from '../policy/policy-holder.ts';
import {
  Connector,
  EGRESS_REFUSALS,
  hostText,
  recheck,
  type EgressCode,
  type Opened,
  type Refusal,
} from './connect.ts';
import { formatAddress, type IpAddress } from './ip.ts';
import type { EgressMetrics } from './metrics.ts';
import { systemDialer, systemResolver, type Dialer, type Resolver } from './net.ts';
import { parseAbsoluteTarget, parseConnectTarget, type Target } from './target.ts';

/**
 * The egress forward proxy the sidecar offers its server container (HTTP_PROXY / HTTPS_PROXY): HTTP
 * forwarding of absolute-form requests and CONNECT tunnels, default deny, every decision audited and
 * counted. Redirects are never followed here: the client follows them through the proxy again, and the
 * new target is checked like any other.
 */
export interface EgressLimits {
  /** Bytes through one connection, both directions together (request and response bodies for HTTP). */
  readonly maxBytesPerConnection: number;
  /** A connection with no traffic either way for this long is closed. */
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly resolveTimeoutMs: number;
}

export const DEFAULT_EGRESS_LIMITS: EgressLimits = {
  maxBytesPerConnection: 1024 ** 3,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  resolveTimeoutMs: 5_000,
};

/** Request line and headers from the server container (Node refuses larger ones with 431). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Client connections to the proxy itself (idle keep-alive ones included). */
const MAX_CLIENT_CONNECTIONS = 4096;

export interface EgressProxyOptions {
  readonly policy: Pick<PolicyHolder, 'gate' | 'current' | 'onChange'>;
  readonly audit: AuditSink;
  readonly metrics: EgressMetrics;
  readonly log: Logger;
  /** Wall clock for audit timestamps. */
  readonly clock?: () => number;
  readonly resolve?: Resolver;
  readonly dial?: Dialer;
  readonly limits?: Partial<EgressLimits>;
}

export interface EgressProxy {
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Egress connections open (or being opened) now. */
  readonly active: number;
  close(): Promise<void>;
}

/** Why an allowed connection ended, when not normally. */
type Closing = 'byte_limit' | 'idle_timeout' | 'revoked' | 'upstream_error' | 'client_closed' | 'shutdown';

const OUTCOME: Readonly<Record<Closing, NonNullable<AuditEvent['outcome']>>> = {
  byte_limit: 'cancelled',
  idle_timeout: 'timeout',
  revoked: 'cancelled',
  upstream_error: 'upstream_error',
  client_closed: 'cancelled',
  shutdown: 'cancelled',
};

/** One egress attempt, from request line to close: what the audit event and metrics are made of. */
interface Attempt {
  readonly id: string;
  readonly startedAt: number;
  readonly protocol: 'http' | 'connect';
  readonly written: string;
  target?: Target;
  policy?: LoadedPolicy;
  address?: string;
  rule?: string;
  sent: number;
  received: number;
  closing?: { readonly code: Closing; readonly reason: string };
  done: boolean;
}

/** A live connection, for revocation on policy change and shutdown. */
interface Live {
  readonly attempt: Attempt;
  readonly target: Target;
  readonly address: IpAddress;
  stop(code: Closing, reason: string): void;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

/** End-to-end headers only (RFC 9110 section 7.6.1): hop-by-hop ones and those Connection names are dropped. */
function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = new Set(
    String(headers['connection'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(key) && !named.has(key)) out[key] = value;
  return out;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function refusalBody(code: string, reason: string): string {
  return `portcullis egress refused (${code}): ${reason}\n`;
}

function refusalHeaders(code: string, body: string): Record<string, string | number> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-portcullis-egress-code': code,
    ...(code === 'connection_limit' || code === 'policy_unavailable' ? { 'retry-after': '1' } : {}),
  };
}

/** A refusal on a raw socket (CONNECT, or a request Node could not parse). */
function writeRawRefusal(socket: Duplex, code: EgressCode, reason: string): void {
  const { status } = EGRESS_REFUSALS[code];
  const body = refusalBody(code, reason);
  const head = Object.entries({ ...refusalHeaders(code, body), connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n${head}\r\n${body}`);
  // A client that never reads must not keep the socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function createEgressProxy(options: EgressProxyOptions): EgressProxy {
  const limits = { ...DEFAULT_EGRESS_LIMITS, ...options.limits };
  const { metrics, audit, log } = options;
  const clock = options.clock ?? Date.now;
  const connector = new Connector({
    policy: options.policy,
    resolve: options.resolve ?? systemResolver,
    dial: options.dial ?? systemDialer,
    resolveTimeoutMs: limits.resolveTimeoutMs,
    connectTimeoutMs: limits.connectTimeoutMs,
    onActive: (n) => metrics.active.set(n),
  });
  const live = new Set<Live>();
  /** Client sockets whose egress connection is being opened (DNS, connect): closed on shutdown. */
  const pending = new Set<Duplex>();
  let stopped = false;

  const begin = (protocol: 'http' | 'connect', written: string): Attempt => ({
    id: randomUUID(),
    startedAt: performance.now(),
    protocol,
    written,
    sent: 0,
    received: 0,
    done: false,
  });

  /**
   * Audit: one event per decision (method `egress`: allowed, denied or errored), emitted when it is
   * made, before any byte flows; and for an allowed connection one more when it ends (method
   * `egress/closed`, same requestId: how it ended, bytes each way, duration).
   */
  const emit = (
    attempt: Attempt,
    method: 'egress' | 'egress/closed',
    decision: AuditDecision,
    fields: Pick<AuditEvent, 'code' | 'reason' | 'outcome'>,
  ): void => {
    const policy = attempt.policy ?? options.policy.current;
    const server = policy?.bundle.server ?? { namespace: '', name: '' };
    const target = attempt.target;
    audit.emit({
      schema: 'portcullis.dev/audit/v1',
      id: randomUUID(),
      time: new Date(clock()).toISOString(),
      kind: 'egress',
      requestId: attempt.id,
      server: { namespace: server.namespace, name: server.name },
      method,
      decision,
      ...fields,
      ...(policy ? { policyHash: policy.hash } : {}),
      latencyMs: performance.now() - attempt.startedAt,
      egress: {
        protocol: attempt.protocol,
        target: attempt.written,
        ...(target ? { host: hostText(target), port: target.port } : {}),
        ...(attempt.address ? { address: attempt.address } : {}),
        ...(attempt.rule ? { rule: attempt.rule } : {}),
        ...(method === 'egress/closed' ? { bytesSent: attempt.sent, bytesReceived: attempt.received } : {}),
      },
    });
  };

  const refused = (attempt: Attempt, refusal: Refusal): void => {
    if (refusal.policy) attempt.policy = refusal.policy;
    if (refusal.address) attempt.address = refusal.address;
    attempt.done = true;
    const { decision } = EGRESS_REFUSALS[refusal.code];
    metrics.connections.inc({ decision, code: refusal.code });
    emit(attempt, 'egress', decision, { code: refusal.code, reason: refusal.reason, outcome: 'refused' });
    log.info({ egress: attempt.written, code: refusal.code, reason: refusal.reason }, 'egress refused');
  };

  const opened = (attempt: Attempt, connection: Opened): void => {
    attempt.policy = connection.policy;
    attempt.address = formatAddress(connection.address);
    attempt.rule = connection.rule;
    metrics.connections.inc({ decision: 'allowed', code: 'ok' });
    emit(attempt, 'egress', 'allowed', {});
  };

  /** The end of an allowed connection; once. */
  const finish = (attempt: Attempt): void => {
    if (attempt.done) return;
    attempt.done = true;
    const closing = attempt.closing;
    metrics.closed.inc({ code: closing?.code ?? 'ok' });
    emit(attempt, 'egress/closed', 'allowed', {
      ...(closing ? { code: closing.code, reason: closing.reason } : {}),
      outcome: closing ? OUTCOME[closing.code] : 'ok',
    });
  };

  /** Counts bytes against the per-connection budget; false (and stops the connection) when over. */
  const count = (attempt: Attempt, direction: 'sent' | 'received', bytes: number, stop: Live['stop']) => {
    attempt[direction] += bytes;
    metrics.bytes.inc({ direction }, bytes);
    if (attempt.sent + attempt.received > limits.maxBytesPerConnection) {
      stop('byte_limit', `more than ${limits.maxBytesPerConnection} bytes through one connection`);
      return false;
    }
    return true;
  };

  // ---- CONNECT ----------------------------------------------------------------------------------

  async function tunnel(request: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const target = parseConnectTarget(request.url ?? '');
    const attempt = begin('connect', target.written);
    client.on('error', () => {});
    if ('invalid' in target) {
      refused(attempt, { code: 'invalid_request', reason: target.invalid });
      return writeRawRefusal(client, 'invalid_request', target.invalid);
    }
    attempt.target = target;
    pending.add(client);
    const result = await connector.open(target).finally(() => pending.delete(client));
    if ('code' in result) {
      refused(attempt, result);
      return writeRawRefusal(client, result.code, result.reason);
    }
    opened(attempt, result);
    const upstream = result.socket;
    const entry: Live = {
      attempt,
      target,
      address: result.address,
      stop(code, reason) {
        attempt.closing ??= { code, reason };
        upstream.destroy();
        client.destroy();
      },
    };
    live.add(entry);
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      live.delete(entry);
      result.release();
      finish(attempt);
    };
    upstream.once('close', closed);
    // A client that closed while the proxy connected has already emitted 'close'.
    if (client.closed) closed();
    else client.once('close', closed);
    if (client.destroyed || stopped)
      return entry.stop(
        stopped ? 'shutdown' : 'client_closed',
        stopped ? 'the sidecar is stopping' : 'the client went away while the proxy connected',
      );

    // Both sides: a half-closed tunnel whose client never closes must not hold its slot forever.
    const idle = () => entry.stop('idle_timeout', `no traffic for ${limits.idleTimeoutMs} ms`);
    upstream.setTimeout(limits.idleTimeoutMs, idle);
    (client as Socket).setTimeout?.(limits.idleTimeoutMs, idle);
    upstream.on('error', (error) => entry.stop('upstream_error', error.message));
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0 && count(attempt, 'sent', head.length, entry.stop)) upstream.write(head);
    client.on('data', (chunk: Buffer) => {
      if (count(attempt, 'sent', chunk.length, entry.stop) && !upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (count(attempt, 'received', chunk.length, entry.stop) && !client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }

  // ---- absolute-form HTTP -----------------------------------------------------------------------

  async function forward(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = parseAbsoluteTarget(request.url ?? '');
    const attempt = begin('http', target.written);
    const refuse = (code: EgressCode, reason: string) => {
      if (response.headersSent) return void response.destroy();
      const body = refusalBody(code, reason);
      // The request body is not read: it must not be parsed as the next request.
      response.writeHead(EGRESS_REFUSALS[code].status, {
        ...refusalHeaders(code, body),
        connection: 'close',
      });
      response.end(body);
    };
    if ('invalid' in target) {
      refused(attempt, { code: 'invalid_request', reason: target.invalid });
      return refuse('invalid_request', target.invalid);
    }
    attempt.target = target;
    pending.add(request.socket);
    const result = await connector.open(target).finally(() => pending.delete(request.socket));
    if ('code' in result) {
      refused(attempt, result);
      return refuse(result.code, result.reason);
    }
    opened(attempt, result);
    const socket: Socket = result.socket;
    const entry: Live = {
      attempt,
      target,
      address: result.address,
      stop(code, reason) {
        attempt.closing ??= { code, reason };
        socket.destroy();
        if (response.headersSent) response.destroy();
      },
    };
    live.add(entry);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      live.delete(entry);
      result.release();
      socket.destroy();
      finish(attempt);
    };
    if (response.destroyed || request.destroyed || stopped) {
      entry.stop(
        stopped ? 'shutdown' : 'client_closed',
        stopped ? 'the sidecar is stopping' : 'the client went away while the proxy connected',
      );
      return end();
    }

    const upstream = httpRequest({
      method: request.method,
      path: target.path,
      headers: { ...endToEnd(request.headers), host: target.authority!, connection: 'close' },
      createConnection: () => socket,
      maxHeaderSize: MAX_HEADER_BYTES,
    });
    socket.setTimeout(limits.idleTimeoutMs, () =>
      entry.stop('idle_timeout', `no traffic for ${limits.idleTimeoutMs} ms`),
    );
    upstream.on('response', (reply) => {
      // Redirects pass back untouched: the client follows them through the proxy, checked again.
      response.writeHead(reply.statusCode ?? 502, reply.statusMessage, endToEnd(reply.headers));
      reply.on('data', (chunk: Buffer) => {
        if (count(attempt, 'received', chunk.length, entry.stop) && !response.write(chunk)) reply.pause();
      });
      response.on('drain', () => reply.resume());
      reply.on('end', () => {
        response.end();
        end();
      });
      reply.on('error', () => {
        response.destroy();
        end();
      });
    });
    upstream.on('error', (error) => {
      attempt.closing ??= { code: 'upstream_error', reason: error.message };
      const closing = attempt.closing;
      if (!response.headersSent) {
        const body = refusalBody(closing.code, closing.reason);
        response.writeHead(closing.code === 'idle_timeout' ? 504 : 502, {
          ...refusalHeaders(closing.code, body),
          connection: 'close',
        });
        response.end(body);
      } else response.destroy();
      end();
    });
    response.on('close', () => {
      if (!response.writableFinished) entry.stop('client_closed', 'the client closed the connection');
      end();
    });
    request.on('data', (chunk: Buffer) => {
      if (count(attempt, 'sent', chunk.length, entry.stop) && !upstream.write(chunk)) request.pause();
    });
    upstream.on('drain', () => request.resume());
    request.on('end', () => upstream.end());
  }

  const server: Server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: 10_000,
    requestTimeout: 0,
    keepAliveTimeout: 5_000,
    // The request target's authority decides where a request goes; a Host line is not needed for that.
    requireHostHeader: false,
  });
  server.maxConnections = MAX_CLIENT_CONNECTIONS;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    forward(request, response).catch((error: unknown) => {
      log.error({ error: (error as Error).message }, 'egress proxy defect');
      response.destroy();
    });
  });
  server.on('connect', (request: IncomingMessage, client: Duplex, head: Buffer) => {
    tunnel(request, client, head).catch((error: unknown) => {
      log.error({ error: (error as Error).message }, 'egress proxy defect');
      client.destroy();
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const code = error.code ?? '';
    if (!code.startsWith('HPE_')) return void socket.destroy();
    const egressCode: EgressCode = code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'invalid_request';
    const reason =
      egressCode === 'headers_too_large'
        ? `request line and headers over ${MAX_HEADER_BYTES} bytes`
        : `malformed HTTP request (${code})`;
    refused(begin('http', ''), { code: egressCode, reason });
    writeRawRefusal(socket, egressCode, reason);
  });

  // A policy change applies to open connections too: those it no longer allows are closed.
  options.policy.onChange(() => {
    for (const entry of live) {
      const why = recheck(options.policy, entry.target, entry.address);
      if (why !== undefined) entry.stop('revoked', `no longer allowed: ${why}`);
    }
  });

  return {
    get active() {
      return connector.active;
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close() {
      stopped = true;
      for (const entry of live) entry.stop('shutdown', 'the sidecar is stopping');
      for (const socket of pending) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
