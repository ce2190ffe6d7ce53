import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import { EXIT, type CliIo } from '../io.ts';
import { collectorClient } from './audit-client.ts';
import { resolveAccess } from './audit-credentials.ts';
import { AuditError, failure, usageError } from './audit-errors.ts';
import { parseAuditArgs, type AuditFilters, type AuditOptions } from './audit-flags.ts';
import { followEvents } from './audit-follow.ts';
import { resultPrinter, streamPrinter } from './audit-format.ts';
import { AUDIT_HELP } from './audit-help.ts';
import { fetchUpTo } from './audit-paging.ts';

export { AUDIT_HELP } from './audit-help.ts';

/** What the command takes from outside besides CliIo; tests replace them. */
export interface AuditDeps {
  readonly now: () => number;
  readonly fetch: typeof fetch;
}

const defaultDeps: AuditDeps = { now: () => Date.now(), fetch: (input, init) => fetch(input, init) };

/** `portcullis audit`: one query (or a follow) against the collector's GET /v1/events. */
export async function runAudit(
  args: readonly string[],
  io: CliIo,
  deps: AuditDeps = defaultDeps,
): Promise<number> {
  try {
    const options = parseAuditArgs(args, io.env, deps.now());
    if (options === 'help') {
      io.out(AUDIT_HELP);
      return EXIT.ok;
    }
    await query(options, io, deps);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof AuditError)) {
      io.err(`portcullis audit: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    const usage = error.exitCode === EXIT.usage ? "\nRun 'portcullis audit --help' for usage." : '';
    io.err(`portcullis audit: ${error.message}${usage}\n`);
    return error.exitCode;
  }
}

async function query(options: AuditOptions, io: CliIo, deps: AuditDeps): Promise<void> {
  const url = options.collectorUrl;
  if (url === undefined) {
    throw usageError(
      "the collector's address is required: --collector URL or PORTCULLIS_COLLECTOR_URL " +
        '(e.g. http://127.0.0.1:8080 with kubectl port-forward to the collector)',
    );
  }
  const access = await resolveAccess(options, io.env);
  if (access.token !== undefined && url.protocol === 'http:' && !isLoopback(url.hostname)) {
    io.err(`portcullis audit: warning: sending the bearer token unencrypted to ${url.host} (http)\n`);
  }
  const fetchPage = collectorClient({
    url,
    token: access.token,
    ...(access.noToken === undefined ? {} : { noToken: access.noToken }),
    fetch: deps.fetch,
  });
  const filters: Omit<AuditQueryInput, 'limit' | 'after' | 'order'> = {
    ...options.filters,
    ...(access.namespace === undefined ? {} : { namespace: access.namespace }),
  };

  // main.ts turns SIGINT into untilShutdown(), so Ctrl-C must be honoured here, not only in follow mode.
  const stop = new AbortController();
  void io.untilShutdown().then(() => stop.abort());
  try {
    if (options.follow) {
      await followEvents({
        fetchPage,
        query: { ...filters, since: filters.since ?? new Date(deps.now()).toISOString() },
        printer: streamPrinter(options.output === 'json' ? 'jsonl' : options.output, io.out), // json: refused
        intervalMs: options.intervalMs,
        signal: stop.signal,
        warn: (text) => io.err(`portcullis audit: ${text}`),
      });
      return;
    }
    const printer = resultPrinter(options.output, io.out);
    await fetchUpTo(
      fetchPage,
      { ...filters, order: options.order },
      options.limit,
      (events) => printer.add(events),
      stop.signal,
    );
    printer.finish();
    if (printer.count === 0 && (options.output === 'table' || options.output === 'wide')) {
      io.err(`No audit events found ${describeScope(access.namespace, options.filters)}.\n`);
    }
  } catch (error) {
    if (stop.signal.aborted && !options.follow) throw failure('interrupted', error);
    throw error;
  }
}

/** `in namespace finance with tool="read_invoice", tenant="acme" since 2026-01-24T10:00:00.000Z`. */
export function describeScope(namespace: string | undefined, filters: AuditFilters): string {
  const where = namespace === undefined ? 'in any namespace' : `in namespace ${namespace}`;
  const { since, until, ...exact } = filters;
  const matches = Object.entries(exact).map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return [
    where,
    ...(matches.length > 0 ? [`with ${matches.join(', ')}`] : []),
    ...(since === undefined ? [] : [`since ${since}`]),
    ...(until === undefined ? [] : [`until ${until}`]),
  ].join(' ');
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}
