import { createSecureContext } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { Pool } from 'undici';
import { credentialsOf, type KubeCredentials, type KubeSource, type TlsMaterial } from './credentials.ts';

/**
 * One connection pool per API server, shared by every request and watch of the process.
 * @kubernetes/client-node builds a new undici Agent, and so a new TLS connection and a new TLS context,
 * for every call it makes and never closes them; at a thousand servers that was most of the operator's
 * memory. Here the TLS material is read once into one SecureContext, connections are kept alive and
 * HTTP/2 is preferred (the API server speaks it: watches and requests share a connection, as client-go
 * does). Headers (the token) are asked of the credentials per request, so rotating tokens work.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export type Method = 'GET' | 'PATCH' | 'PUT' | 'POST' | 'DELETE';

export interface RequestOptions {
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly signal?: AbortSignal;
}

export interface WatchOptions {
  readonly accept?: string;
  readonly signal: AbortSignal;
  /** Longest silence (no event, no bookmark) before the watch counts as dead. */
  readonly idleTimeoutMs: number;
}

/** A watch event line: type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and object. */
export interface WatchEvent {
  readonly type: string;
  readonly object: Record<string, unknown> & {
    metadata?: { resourceVersion?: string };
    code?: number;
  };
}

const REQUEST_TIMEOUT_MS = 30_000;
const clients = new WeakMap<KubeSource, KubeClient>();

interface Connected {
  readonly pool: Pool;
  /** The server URL's path (a proxy in front of the API server may put one there). */
  readonly base: string;
  readonly credentials: KubeCredentials & { stale?(): void };
}

export class KubeClient {
  readonly #connected: Promise<Connected>;
  readonly #source: KubeSource;

  /** The process-wide client of these credentials or this KubeConfig (created on first use). */
  static for(kube: KubeSource | KubeClient): KubeClient {
    if (kube instanceof KubeClient) return kube;
    let client = clients.get(kube);
    if (client === undefined) {
      client = new KubeClient(kube);
      clients.set(kube, client);
    }
    return client;
  }

  constructor(source: KubeSource) {
    // Told apart by shape, not instanceof: lean credentials must work without client-node loaded.
    const lean = 'headers' in source && typeof source.headers === 'function';
    this.#source = source;
    const credentials = lean
      ? Promise.resolve(source as KubeCredentials)
      : credentialsOf(source as KubeConfig);
    this.#connected = credentials.then((c) => ({
      credentials: c,
      pool: connect(c.server, c.tls),
      base: new URL(c.server).pathname.replace(/\/+$/, ''),
    }));
    // A kubeconfig that cannot be read fails every call with its reason; never unhandled here.
    this.#connected.catch(() => undefined);
  }

  /** One call; resolves with the parsed JSON body (undefined when empty), rejects with ApiError on >= 300. */
  async request<T = unknown>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const text = await this.#send(method, path, options, false);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** One call whose answer is not needed (an apply echoes the whole object back): read, not parsed. */
  async send(method: Method, path: string, options: RequestOptions = {}): Promise<void> {
    await this.#send(method, path, options, true);
  }

  /** The headers the next request carries (the Authorization header, for services that take the same token). */
  async headers(): Promise<Record<string, string>> {
    return (await this.#connected).credentials.headers();
  }

  /**
   * One watch: calls onEvent for every line until the server ends it (resolves), or an error, the signal
   * or `idleTimeoutMs` of silence ends it (rejects). An exception thrown by onEvent ends it too.
   */
  async watch(path: string, options: WatchOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
    const { pool, credentials, base } = await this.#connected;
    const response = await pool.request({
      method: 'GET',
      path: base + path,
      headers: { ...(await credentials.headers()), accept: options.accept ?? 'application/json' },
      signal: options.signal,
      bodyTimeout: options.idleTimeoutMs,
    });
    if (response.statusCode >= 300) {
      if (response.statusCode === 401) credentials.stale?.();
      throw apiError(response.statusCode, await response.body.text());
    }
    let pending = '';
    response.body.setEncoding('utf8');
    for await (const chunk of response.body as AsyncIterable<string>) {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim() !== '') onEvent(JSON.parse(line) as WatchEvent);
        newline = pending.indexOf('\n');
      }
    }
  }

  /** Closes the connections (tests and short-lived tools; a long-running process keeps its client). */
  async close(): Promise<void> {
    if (clients.get(this.#source) === this) clients.delete(this.#source);
    await (await this.#connected).pool.close();
  }

  async #send(method: Method, path: string, options: RequestOptions, discard: boolean): Promise<string> {
    const { pool, credentials, base } = await this.#connected;
    const headers: Record<string, string> = {
      ...(await credentials.headers()),
      accept: options.accept ?? 'application/json',
    };
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await pool.request({
      method,
      path: base + path,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
      signal: options.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (response.statusCode >= 300) {
      if (response.statusCode === 401) credentials.stale?.();
      throw apiError(response.statusCode, await response.body.text());
    }
    if (discard) {
      await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      return '';
    }
    return response.body.text();
  }
}

function connect(server: string, tls: TlsMaterial): Pool {
  const origin = new URL(server);
  return new Pool(origin.origin, {
    connect: {
      ...(origin.protocol === 'https:'
        ? {
            secureContext: createSecureContext({
              ...(tls.ca ? { ca: tls.ca } : {}),
              ...(tls.cert ? { cert: tls.cert } : {}),
              ...(tls.key ? { key: tls.key } : {}),
            }),
            ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
            ...(tls.servername ? { servername: tls.servername } : {}),
          }
        : {}),
      keepAlive: true,
      keepAliveInitialDelay: 30_000,
    },
    allowH2: true,
    keepAliveTimeout: 60_000,
    headersTimeout: REQUEST_TIMEOUT_MS,
    // Watches set their own (idle) body timeout; requests keep this one.
    bodyTimeout: REQUEST_TIMEOUT_MS,
    // Pings find a dead connection (and the watches on it) without waiting for a watch to time out.
    h2Options: { pingInterval: 30_000 },
  });
}

function apiError(status: number, text: string): ApiError {
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // Not JSON (a proxy's page): the text is the message.
  }
  return new ApiError(status, message);
}
