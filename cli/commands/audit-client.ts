import { z } from 'zod';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { EVENTS_QUERY_PATH, type AuditQueryInput } from '../../api/audit/v1/query.ts';
import { CREATE_TOKEN_HINT } from './audit-credentials.ts';
import { failure, refused, unavailable, usageError, type AuditError } from './audit-errors.ts';

/** One page of the query API's answer (collector/store AuditPage on the wire). */
export interface AuditPage {
  readonly events: AuditEvent[];
  readonly next?: string;
}

/** GET /v1/events with these parameters; `signal` aborts the request (follow mode stopping). */
export type FetchPage = (query: AuditQueryInput, signal?: AbortSignal) => Promise<AuditPage>;

const REQUEST_TIMEOUT_MS = 30_000;

// Only what the table needs is checked; events are otherwise passed on exactly as the collector stored
// them (a newer sidecar's additional fields included), so json output is the evidence, not a re-encoding.
const wirePage = z.object({
  events: z.array(
    z.looseObject({
      id: z.string(),
      time: z.string(),
      server: z.looseObject({ namespace: z.string(), name: z.string() }),
      decision: z.string(),
    }),
  ),
  next: z.string().optional(),
});
const wireError = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export function collectorClient(options: {
  readonly url: URL;
  /** Sent as a bearer token when there is one; a collector with --query-auth none needs none. */
  readonly token: string | undefined;
  /** Why there is no token (see AuditAccess): named in the error when the collector wants one. */
  readonly noToken?: string;
  readonly fetch: typeof fetch;
}): FetchPage {
  // A collector behind a path prefix (https://gw.example.com/audit) keeps its prefix.
  const endpoint = new URL(options.url.pathname.replace(/\/+$/, '') + EVENTS_QUERY_PATH, options.url);
  return async (query, signal) => {
    const url = new URL(endpoint);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    let response: Response;
    let body: string;
    try {
      response = await options.fetch(url, {
        headers: {
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          accept: 'application/json',
        },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'error', // never replay the bearer token to wherever a redirect points
      });
      body = await response.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timeout.aborted ? `no answer within ${REQUEST_TIMEOUT_MS / 1000}s` : describeCause(error);
      throw unavailable(`cannot reach the collector at ${options.url.href}: ${why}`, error);
    }
    if (response.ok) return parsePage(body, options.url);
    throw refusal(response.status, body, {
      namespace: query.namespace,
      url: options.url,
      ...(options.token === undefined ? { noToken: options.noToken ?? 'no token given' } : {}),
    });
  };
}

function parsePage(body: string, url: URL): AuditPage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const page = wirePage.safeParse(json);
  if (!page.success) {
    throw failure(`the answer from ${url.href} is not a page of audit events; is it the collector?`);
  }
  return page.data as AuditPage;
}

/** What was asked: the namespace queried, the collector, and why no token was sent (when none was). */
export interface RefusalContext {
  readonly namespace: string | undefined;
  readonly url: URL;
  readonly noToken?: string;
}

/** The collector's typed error as an AuditError with the exit code and a hint at the fix. */
export function refusal(status: number, body: string, context: RefusalContext): AuditError {
  const { namespace, url } = context;
  let parsed: z.infer<typeof wireError> | undefined;
  try {
    parsed = wireError.safeParse(JSON.parse(body)).data;
  } catch {
    parsed = undefined;
  }
  const said = parsed ? `${parsed.error.message} (${parsed.error.code})` : `HTTP ${status}`;
  if (status === 400) return usageError(`the collector refused the query: ${said}`);
  if (status === 401 && context.noToken !== undefined) {
    // Asking without a token is right for a collector run with --query-auth none; this one is not.
    return refused(
      'token_required',
      `the collector at ${url.href} requires a bearer token (${said}), and none was sent: ` +
        `${context.noToken}. ${CREATE_TOKEN_HINT}`,
    );
  }
  if (status === 401) {
    return refused(
      'token_rejected',
      `the collector did not accept the token: ${said}. It takes an ordinary bearer token of the ` +
        `cluster it runs in (not a sidecar's): --token-file, PORTCULLIS_TOKEN, or a kubeconfig user ` +
        `with a token ('kubectl create token <serviceaccount> -n <namespace>' makes one)`,
    );
  }
  if (status === 403) {
    const where =
      namespace === undefined
        ? 'cluster-wide (a ClusterRole and ClusterRoleBinding), as -A queries every namespace'
        : `in namespace ${namespace} (a Role and RoleBinding there)`;
    return refused(
      'forbidden',
      `not allowed: ${said}. Reading audit events needs get on mcpservers/audit (group portcullis.dev) ` +
        `${where}; the rule: {apiGroups: [portcullis.dev], resources: [mcpservers/audit], verbs: [get]}`,
    );
  }
  if (status === 404)
    return failure(`${url.href} has no ${EVENTS_QUERY_PATH}: is it the collector's address?`);
  const message = `the collector at ${url.href} answered ${said}`;
  // 429: the collector is at its memory ceiling (busy); like a 5xx it may answer later, so --follow waits.
  return status >= 500 || status === 429 ? unavailable(message) : failure(message);
}

/** fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is in its cause. */
function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.message === 'string' && cause.message !== '') return cause.message;
  if (cause && typeof cause.code === 'string') return cause.code;
  return (error as Error).message;
}
