import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HEARTBEAT_PATH, INGEST_PATH } from '../../api/audit/v1/ingest.ts';
import { EVENTS_QUERY_PATH, SIDECARS_PATH } from '../../api/audit/v1/query.ts';
import { CollectorError, writeError } from '../errors.ts';
import { handleHeartbeat, handleIngest, type IngestContext } from '../ingest/ingest.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { handleEventsQuery, handleSidecarsQuery, type QueryContext } from '../query/handler.ts';
import { LogLimiter } from './log-limiter.ts';

export interface RouterContext {
  readonly ingest: IngestContext;
  readonly query: QueryContext;
  readonly metrics: CollectorMetrics;
  readonly log: Logger;
  /** For the refusal log's rate limit. */
  readonly clock?: () => number;
}

/** Each kind of refusal (endpoint and code) is logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<void>;

/**
 * The ingest and query endpoints on one listener. Every handler throws CollectorErrors; this is the one
 * place they become responses and metrics. Requests are tracked so shutdown can wait for in-flight
 * ingest: a batch the store committed gets its ack.
 */
export class Router {
  readonly #routes: ReadonlyMap<string, Readonly<Record<string, { endpoint: string; handle: Handler }>>>;
  readonly #context: RouterContext;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #refusalLog: LogLimiter;
  #closing = false;

  constructor(context: RouterContext) {
    this.#context = context;
    this.#refusalLog = new LogLimiter({
      intervalMs: REFUSAL_LOG_INTERVAL_MS,
      clock: context.clock ?? Date.now,
    });
    const { ingest, query } = context;
    const table: [path: string, method: string, endpoint: string, handle: Handler][] = [
      [INGEST_PATH, 'POST', 'events', (q, s) => handleIngest(ingest, q, s)],
      [HEARTBEAT_PATH, 'POST', 'heartbeat', (q, s) => handleHeartbeat(ingest, q, s)],
      [EVENTS_QUERY_PATH, 'GET', 'query', (q, s, u) => handleEventsQuery(query, q, s, u)],
      [SIDECARS_PATH, 'GET', 'sidecars', (q, s, u) => handleSidecarsQuery(query, q, s, u)],
    ];
    const routes = new Map<string, Record<string, { endpoint: string; handle: Handler }>>();
    for (const [path, method, endpoint, handle] of table) {
      routes.set(path, { ...routes.get(path), [method]: { endpoint, handle } });
    }
    this.#routes = routes;
  }

  /** The server's request listener. */
  readonly listener = (request: IncomingMessage, response: ServerResponse): void => {
    const done = this.#handle(request, response);
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
  };

  /** Refuse new requests (503, retry elsewhere) and wait for those in flight. */
  async drain(): Promise<void> {
    this.#closing = true;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://collector');
    const methods = this.#routes.get(url.pathname);
    const route = methods?.[request.method ?? ''];
    const endpoint = route?.endpoint ?? 'other';
    let code = 'ok';
    try {
      if (this.#closing) throw new CollectorError('shutting_down', 'the collector is shutting down; retry');
      if (methods === undefined) throw new CollectorError('not_found', `no endpoint ${url.pathname}`);
      if (route === undefined) {
        response.setHeader('allow', Object.keys(methods).join(', '));
        throw new CollectorError('method_not_allowed', `${request.method} is not allowed on ${url.pathname}`);
      }
      await route.handle(request, response, url);
    } catch (thrown) {
      const error =
        thrown instanceof CollectorError
          ? thrown
          : clientAborted(request)
            ? new CollectorError('client_aborted', 'the client closed the request before it ended', {
                cause: thrown,
              })
            : internal(thrown, this.#context.log);
      code = error.code;
      this.#logRefusal(error, endpoint);
      // An unread body must not be parsed as the next request on this connection.
      writeError(response, error, !request.complete || this.#closing);
    } finally {
      this.#context.metrics.requests.inc({ endpoint, code });
    }
  }

  /**
   * Failures and refusals worth a look are warnings, rate-limited per endpoint and code (a flood of one
   * bad token is one line per interval with a count, not a line per request); the rest are debug.
   */
  #logRefusal(error: CollectorError, endpoint: string): void {
    const { log } = this.#context;
    const entry = { endpoint, code: error.code, reason: error.message };
    const warn = error.status >= 500 || error.status === 401 || error.status === 403;
    if (!warn) {
      log.debug(entry, 'request refused');
      return;
    }
    const admitted = this.#refusalLog.admit(`${endpoint}/${error.code}`);
    if (!admitted.log) return;
    const held = admitted.suppressed > 0 ? { suppressedSinceLast: admitted.suppressed } : {};
    if (error.status >= 500) log.warn({ ...entry, ...held, err: error.cause }, 'request failed');
    else log.warn({ ...entry, ...held }, 'request refused');
  }
}

/** The client went away mid-request (an upload aborted, a connection reset): its doing, not ours. */
function clientAborted(request: IncomingMessage): boolean {
  return request.destroyed && !request.complete;
}

function internal(error: unknown, log: Logger): CollectorError {
  log.error({ err: error }, 'internal error');
  return new CollectorError('internal_error', 'internal error', { cause: error });
}
