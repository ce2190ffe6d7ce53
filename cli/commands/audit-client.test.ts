import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { testEvents } from '../../collector/store/test-events.ts';
import { collectorClient } from './audit-client.ts';
import { AuditError } from './audit-errors.ts';

const TOKEN = 'secret-token-value';

function fakeFetch(status: number, body: unknown) {
  const calls: { url: URL; init: RequestInit }[] = [];
  const fetch = (async (url: URL, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

async function refusal(status: number, body: unknown, namespace?: string): Promise<AuditError> {
  const { fetch } = fakeFetch(status, body);
  const client = collectorClient({ url: new URL('http://127.0.0.1:8080'), token: TOKEN, fetch });
  const error = await client({ ...(namespace ? { namespace } : {}) }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuditError);
  expect((error as AuditError).message).not.toContain(TOKEN);
  return error as AuditError;
}

const typed = (code: string, message: string) => ({ error: { code, message } });

describe('collectorClient', () => {
  it('asks GET /v1/events with the filters as parameters and the bearer token', async () => {
    const page = { events: testEvents('sc', 1, 2), next: 'cursor' };
    const { fetch, calls } = fakeFetch(200, page);
    const client = collectorClient({ url: new URL('https://gw.example.com/audit/'), token: TOKEN, fetch });
    expect(
      await client({
        tool: 'read_invoice',
        tenant: 'acme & co',
        namespace: 'finance',
        limit: 100,
        order: 'desc',
      }),
    ).toEqual(page);
    const [call] = calls;
    expect(call?.url.origin + call!.url.pathname).toBe('https://gw.example.com/audit/v1/events');
    expect(Object.fromEntries(call!.url.searchParams)).toEqual({
      tool: 'read_invoice',
      tenant: 'acme & co',
      namespace: 'finance',
      limit: '100',
      order: 'desc',
    });
    expect(call?.init.headers).toMatchObject({ authorization: `Bearer ${TOKEN}` });
    expect(call?.init.redirect).toBe('error');
  });

  it('keeps the fields of an event it does not know', async () => {
    const event = { ...testEvents('sc', 1, 1)[0], addedInV1_1: 42 };
    const { fetch } = fakeFetch(200, { events: [event] });
    const client = collectorClient({ url: new URL('http://127.0.0.1:8080'), token: TOKEN, fetch });
    expect((await client({})).events).toEqual([event]);
  });

  it('says so when the answer is not a page of events', async () => {
    const error = await refusal(200, '<html>login</html>');
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('not a page of audit events');
  });

  it('turns 400 into a usage error with the collector message', async () => {
    const error = await refusal(400, typed('invalid_query', 'since: Invalid ISO datetime'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'the collector refused the query: since: Invalid ISO datetime (invalid_query)',
    );
  });

  it('asks without an authorization header when there is no token (a --query-auth none collector)', async () => {
    const { fetch, calls } = fakeFetch(200, { events: [] });
    const client = collectorClient({ url: new URL('http://127.0.0.1:8080'), token: undefined, fetch });
    expect(await client({})).toEqual({ events: [] });
    expect(Object.keys(calls[0]!.init.headers as Record<string, string>)).toEqual(['accept']);
  });

  it('says a 401 to a query without a token means the collector wants one, and why none was found', async () => {
    const { fetch } = fakeFetch(401, typed('missing_token', 'a bearer token is required'));
    const client = collectorClient({
      url: new URL('http://127.0.0.1:8080'),
      token: undefined,
      noToken: 'kubeconfig user root authenticates with a client certificate',
      fetch,
    });
    const error = (await client({}).catch((e: unknown) => e)) as AuditError;
    expect(error).toBeInstanceOf(AuditError);
    expect(error).toMatchObject({ exitCode: 1, code: 'token_required', retryable: false });
    expect(error.message).toBe(
      'the collector at http://127.0.0.1:8080/ requires a bearer token (a bearer token is required ' +
        '(missing_token)), and none was sent: kubeconfig user root authenticates with a client ' +
        "certificate. the collector takes a Kubernetes bearer token: pass --token-file or PORTCULLIS_TOKEN, e.g. from 'kubectl create token <serviceaccount> -n <namespace>'",
    );
  });

  it('explains 401 with how to get a token', async () => {
    const error = await refusal(401, typed('invalid_token', 'the token was not accepted'));
    expect(error.exitCode).toBe(1);
    expect(error.code).toBe('token_rejected');
    expect(error.message).toContain('the token was not accepted (invalid_token)');
    expect(error.message).toContain('kubectl create token');
  });

  it('explains 403 with the RBAC rule, per namespace or cluster-wide', async () => {
    const inNamespace = await refusal(
      403,
      typed('forbidden', 'alice may not get mcpservers/audit in namespace finance'),
      'finance',
    );
    expect(inNamespace).toMatchObject({ exitCode: 1, code: 'forbidden' });
    expect(inNamespace.message).toContain(
      'alice may not get mcpservers/audit in namespace finance (forbidden)',
    );
    expect(inNamespace.message).toContain(
      'get on mcpservers/audit (group portcullis.dev) in namespace finance',
    );
    const clusterWide = await refusal(403, typed('forbidden', 'no'));
    expect(clusterWide.message).toContain('cluster-wide');
    expect(clusterWide.message).toContain('-A');
  });

  it('marks 5xx and 429 as worth retrying and 404 as a wrong address', async () => {
    const down = await refusal(503, typed('store_unavailable', 'database locked'));
    expect(down).toMatchObject({ exitCode: 1, retryable: true, code: 'unavailable' });
    expect(down.message).toContain('database locked (store_unavailable)');
    // 429 busy: the collector is at its memory ceiling; --follow waits and asks again.
    expect(await refusal(429, typed('busy', 'retry'))).toMatchObject({ exitCode: 1, retryable: true });
    const wrong = await refusal(404, 'Not Found');
    expect(wrong).toMatchObject({ exitCode: 1, retryable: false });
    expect(wrong.message).toContain("is it the collector's address?");
  });

  it('names the URL and the reason when the collector cannot be reached', async () => {
    const port = await closedPort();
    const client = collectorClient({ url: new URL(`http://127.0.0.1:${port}`), token: TOKEN, fetch });
    const error = (await client({}).catch((e: unknown) => e)) as AuditError;
    expect(error).toBeInstanceOf(AuditError);
    expect(error).toMatchObject({ exitCode: 1, retryable: true });
    expect(error.message).toMatch(
      new RegExp(`^cannot reach the collector at http://127.0.0.1:${port}/: .*ECONNREFUSED`),
    );
  });

  it('lets an abort by the caller through as it is', async () => {
    const client = collectorClient({ url: new URL('http://127.0.0.1:1'), token: TOKEN, fetch });
    const stop = new AbortController();
    stop.abort();
    const error = await client({}, stop.signal).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(AuditError);
  });
});

/** A loopback port nothing listens on (just released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
