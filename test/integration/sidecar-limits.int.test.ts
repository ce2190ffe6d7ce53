import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { parseSamples, sampleValue, type Sample } from '../harness/prometheus-text.ts';
import { BILLING_AUDIENCE, connectAs, eventually } from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * Blast-radius limits end to end: a real sidecar (policy fixtures limits-slow and limits-response) in
 * front of the fixture MCP servers, called by real SDK clients and raw HTTP. Rates answer 429 with
 * Retry-After, concurrency caps 503 after a bounded wait, budgets 429 for the rest of the session, an
 * oversized answer is refused or cut; every refusal names its limit in the audit trail and the metrics;
 * and a noisy client does not slow a quiet one down.
 */
const SLOW_AUDIENCE = 'https://slow.mcp.example.com/mcp';

interface Seen {
  readonly status: number;
  readonly retryAfter: string | null;
}

/** A fetch that remembers every status and Retry-After the SDK client saw. */
function recordingFetch(seen: Seen[]): FetchLike {
  return async (url, init) => {
    const response = await fetch(url, init);
    seen.push({ status: response.status, retryAfter: response.headers.get('retry-after') });
    return response;
  };
}

/** 'ok', or the stable refusal code quoted in the SDK's error message. */
function outcomeOf(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => 'ok',
    (error: unknown) => /"code":"([a-z_]+)"/.exec(String(error))?.[1] ?? String(error),
  );
}

const sleep = (client: Client, ms: number) => client.callTool({ name: 'sleep', arguments: { ms } });

async function metrics(gate: SidecarUnderTest): Promise<Sample[]> {
  return parseSamples(await (await fetch(`${gate.sidecar.adminUrl}/metrics`)).text());
}

const concurrency = (gate: SidecarUnderTest) =>
  [...gate.sidecar.context.limits.concurrency()].find((s) => s.scope === 'server') ?? {
    inFlight: 0,
    queued: 0,
  };

describe('sidecar limits: rates, concurrency, budgets', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  const clients: Client[] = [];
  const connect = async (sub: string, fetch?: FetchLike) => {
    const client = await connectAs(gate, { sub, client_id: `${sub}-agent` }, fetch ? { fetch } : {});
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    upstream = await startHttpFixture('slow');
    gate = await startSidecarUnderTest({
      policyFixture: 'limits-slow',
      upstream: { upstreamUrl: upstream.url },
      audience: SLOW_AUDIENCE,
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gate?.stop();
    await upstream?.close();
  });

  it('answers a caller over its rate with 429, Retry-After and a typed error, audited and counted', async () => {
    const seen: Seen[] = [];
    const noisy = await connect('noisy', recordingFetch(seen));
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) outcomes.push(await outcomeOf(sleep(noisy, 0)));
    expect(outcomes.slice(0, 5)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(outcomes.filter((o) => o === 'rate_limited').length).toBeGreaterThanOrEqual(2);

    const limitedResponses = seen.filter((s) => s.status === 429);
    expect(limitedResponses.length).toBeGreaterThanOrEqual(2);
    expect(limitedResponses.every((s) => s.retryAfter === '1')).toBe(true);
    const error = String(await sleep(noisy, 0).catch((e: unknown) => e));
    expect(error).toContain('-31050');

    const event = gate.audit.events.findLast((e) => e.code === 'rate_limited')!;
    expect(event).toMatchObject({
      tool: 'sleep',
      user: 'noisy',
      decision: 'denied',
      outcome: 'refused',
      rule: { policy: 'limits', rule: 'noisy-sleeps' },
    });
    expect(event.reason).toMatch(
      /^rate limit: rule noisy-sleeps of ToolPolicy limits per user allows 5 calls\/s \(burst 5\); retry in 1 s$/,
    );
    const samples = await metrics(gate);
    expect(
      sampleValue(samples, 'portcullis_limited_calls_total', { limit: 'rate', scope: 'subject' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sampleValue(samples, 'portcullis_refusals_total', { code: 'rate_limited' }),
    ).toBeGreaterThanOrEqual(3);
  });

  it('keeps a noisy client from starving a quiet one on the same sidecar', async () => {
    const rowdy = await connect('rowdy');
    const quiet = await connect('quiet');
    await sleep(quiet, 0); // warm the quiet session

    // 30 slow calls at once from one client: its rule allows 5/s and one in flight (two may wait), and
    // waiting for the rule's slot holds no server slot, so the quiet caller still finds two free.
    const flood = Array.from({ length: 30 }, () => outcomeOf(sleep(rowdy, 300)));
    await eventually(
      async () => concurrency(gate).inFlight,
      (n) => n >= 1,
    );
    const latencies: number[] = [];
    const quietOutcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      quietOutcomes.push(await outcomeOf(sleep(quiet, 0)));
      latencies.push(performance.now() - started);
    }
    const floodOutcomes = await Promise.all(flood);

    expect(quietOutcomes).toEqual(Array(10).fill('ok'));
    expect(Math.max(...latencies)).toBeLessThan(250);
    const count = (code: string) => floodOutcomes.filter((o) => o === code).length;
    expect(count('ok')).toBeGreaterThanOrEqual(1);
    expect(count('ok')).toBeLessThanOrEqual(5);
    // Refused calls spend no rate token (the rate counts calls that reach the server), so a flood that
    // concurrency refuses is answered 503 rather than 429: either way it is refused, at no cost upstream.
    expect(count('rate_limited') + count('concurrency_limited')).toBeGreaterThanOrEqual(25);
    expect(count('ok') + count('rate_limited') + count('concurrency_limited')).toBe(30);
    const refused = gate.audit.events.filter((e) => e.user === 'rowdy' && e.code === 'concurrency_limited');
    for (const event of refused)
      expect(event.reason).toContain('rule noisy-sleeps of ToolPolicy limits allows 1 calls in flight');
  });

  it('caps calls in flight, queues a few for a bounded time, and leaks no slot when a waiter leaves', async () => {
    const seen: Seen[] = [];
    const client = await connect('patient', recordingFetch(seen));
    // Three long calls take the server's three slots.
    const running = [0, 1, 2].map(() => outcomeOf(sleep(client, 1500)));
    expect(
      (
        await eventually(
          async () => concurrency(gate),
          (s) => s.inFlight === 3,
        )
      ).inFlight,
    ).toBe(3);

    // A raw request that queues, then its client goes away: it leaves the queue at once.
    const transport = client.transport as StreamableHTTPClientTransport;
    const token = await gate.token({ sub: 'patient', client_id: 'patient-agent' });
    const abort = new AbortController();
    const raw = fetch(gate.url, {
      method: 'POST',
      signal: abort.signal,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': transport.protocolVersion!,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'leaver',
        method: 'tools/call',
        params: { name: 'sleep', arguments: { ms: 1 } },
      }),
    }).catch((e: unknown) => e);
    expect(
      (
        await eventually(
          async () => concurrency(gate),
          (s) => s.queued === 1,
        )
      ).queued,
    ).toBe(1);
    abort.abort();
    await raw;
    expect(
      (
        await eventually(
          async () => concurrency(gate),
          (s) => s.queued === 0,
        )
      ).queued,
    ).toBe(0);
    expect(concurrency(gate).inFlight).toBe(3);

    // Two more wait (maxQueue 2); the next is refused at once; the waiters give up after 1 s.
    const started = performance.now();
    const waiting = [outcomeOf(sleep(client, 1)), outcomeOf(sleep(client, 1))];
    await eventually(
      async () => concurrency(gate),
      (s) => s.queued === 2,
    );
    const samplesWhileQueued = await metrics(gate);
    expect(
      sampleValue(samplesWhileQueued, 'portcullis_limit_queue_depth', { scope: 'server', name: '' }),
    ).toBe(2);
    expect(sampleValue(samplesWhileQueued, 'portcullis_limit_in_flight', { scope: 'server', name: '' })).toBe(
      3,
    );
    expect(await outcomeOf(sleep(client, 1))).toBe('concurrency_limited');
    expect(seen.at(-1)).toEqual({ status: 503, retryAfter: '1' });
    expect(await Promise.all(waiting)).toEqual(['concurrency_limited', 'concurrency_limited']);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(900);
    expect(waited).toBeLessThan(1500);
    expect(await Promise.all(running)).toEqual(['ok', 'ok', 'ok']);

    // Everything given back; each refusal says which limit and why.
    expect(concurrency(gate)).toMatchObject({ inFlight: 0, queued: 0 });
    const reasons = gate.audit.events
      .filter((e) => e.user === 'patient' && e.code === 'concurrency_limited')
      .map((e) => e.reason);
    expect(reasons).toContain(
      'concurrency limit: server default/slow allows 3 calls in flight; the client went away while the call waited for a slot',
    );
    expect(reasons).toContain(
      'concurrency limit: server default/slow allows 3 calls in flight; all are taken and the wait queue (2) is full',
    );
    expect(reasons).toContain(
      'concurrency limit: server default/slow allows 3 calls in flight; no slot freed within 1 s',
    );
    expect(gate.audit.events.find((e) => e.reason?.includes('the client went away'))).toMatchObject({
      outcome: 'cancelled',
    });
    const samples = await metrics(gate);
    for (const limit of ['queue_full', 'queue_timeout', 'cancelled'])
      expect(
        sampleValue(samples, 'portcullis_limited_calls_total', { limit, scope: 'server' }),
      ).toBeGreaterThan(0);
    expect(sampleValue(samples, 'portcullis_limit_in_flight', { scope: 'server', name: '' })).toBe(0);
  });

  it('spends a call budget per session: 429 without Retry-After, and a new session starts afresh', async () => {
    const seen: Seen[] = [];
    const frugal = await connect('frugal', recordingFetch(seen));
    for (let i = 0; i < 3; i++) expect(await outcomeOf(sleep(frugal, 0))).toBe('ok');
    const error = String(await sleep(frugal, 0).catch((e: unknown) => e));
    expect(error).toContain('-31052');
    expect(error).toContain('budget_exhausted');
    expect(seen.at(-1)).toEqual({ status: 429, retryAfter: null });
    expect(gate.audit.events.findLast((e) => e.code === 'budget_exhausted')?.reason).toBe(
      'call budget exhausted: rule budgeted-sleeps of ToolPolicy limits allows 3 calls per session; a new session starts a new budget',
    );
    const again = await connect('frugal');
    expect(await outcomeOf(sleep(again, 0))).toBe('ok');
  });

  it('keeps limiter state across a policy update that leaves the limits alone', async () => {
    const noisy = await connect('noisy');
    // Spend whatever the bucket refilled since the first test.
    for (let i = 0; i < 6; i++) await outcomeOf(sleep(noisy, 0));
    const file = `${gate.policyDir}/server.yaml`;
    const original = await readFile(file, 'utf8');
    const before = gate.sidecar.context.policy.current!.hash;
    await writeFile(file, `${original}    - name: unrelated\n      tools: [never_called]\n`);
    await gate.sidecar.source.reload();
    expect(gate.sidecar.context.policy.current!.hash).not.toBe(before);
    expect(await outcomeOf(sleep(noisy, 0))).toBe('rate_limited'); // not a fresh burst
    await writeFile(file, original);
    await gate.sidecar.source.reload();
  });
});

describe('sidecar limits: response size', () => {
  const upstreams: HttpFixture[] = [];
  const gates: SidecarUnderTest[] = [];
  const start = async (jsonResponse: boolean) => {
    const upstream = await startHttpFixture('billing', { stateless: true, jsonResponse });
    upstreams.push(upstream);
    const gate = await startSidecarUnderTest({
      policyFixture: 'limits-response',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
    gates.push(gate);
    return gate;
  };
  afterAll(async () => {
    await Promise.all(gates.map((g) => g.stop()));
    await Promise.all(upstreams.map((u) => u.close()));
  });

  const readInvoice = async (gate: SidecarUnderTest, invoiceId: string) => {
    const token = await gate.token({ sub: 'reader', client_id: 'reader-agent' });
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: invoiceId } },
      }),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      text: await response.text(),
    };
  };

  it('refuses a JSON answer over maxResponseSize with a typed 502, and audits it', async () => {
    const gate = await start(true);
    expect((await readInvoice(gate, 'INV-1')).status).toBe(200);
    const { status, text } = await readInvoice(gate, 'x'.repeat(4000));
    expect(status).toBe(502);
    const body = JSON.parse(text) as { id: number; error: { code: number; message: string; data: unknown } };
    expect(body).toMatchObject({
      id: 7,
      error: { code: -31053, data: { portcullis: { code: 'response_too_large' } } },
    });
    expect(body.error.message).toContain('response size limit of 2048 bytes (limits.maxResponseSize 2Ki)');
    expect(text).not.toContain('xxxx');
    expect(gate.audit.events.at(-1)).toMatchObject({
      tool: 'read_invoice',
      decision: 'errored',
      code: 'response_too_large',
      outcome: 'upstream_error',
    });
    expect(concurrency(gate)).toMatchObject({ inFlight: 0, queued: 0 }); // the failed call gave its slot back
  });

  it('cuts an event stream at maxResponseSize with an error event for the call, and audits it', async () => {
    const gate = await start(false);
    const small = await readInvoice(gate, 'INV-1');
    expect(small.type).toContain('text/event-stream');
    expect(small.text).toContain('"result"');
    const { status, type, text } = await readInvoice(gate, 'x'.repeat(4000));
    expect([status, type]).toEqual([200, 'text/event-stream']);
    expect(text).not.toContain('xxxx');
    expect(text).not.toContain('"result"');
    const data = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as { id: number; error?: { code: number; message: string } });
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ id: 7, error: { code: -31053 } });
    expect(data[0]!.error!.message).toContain('the stream was cut there');
    expect(gate.audit.events.at(-1)).toMatchObject({
      tool: 'read_invoice',
      decision: 'errored',
      code: 'response_too_large',
      outcome: 'upstream_error',
    });
    expect(concurrency(gate)).toMatchObject({ inFlight: 0, queued: 0 }); // the failed call gave its slot back
  });
});
