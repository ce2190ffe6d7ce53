import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { parseSamples, sampleValue, type Sample } from '../harness/prometheus-text.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import {
  BILLING_AUDIENCE,
  connectAs,
  eventually,
  portcullisCode,
  supportAgent,
} from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The admin port (liveness, readiness, Prometheus metrics) and the policy gate's failure modes: no
 * valid policy from the start, and a policy that stopped being confirmed under failurePolicy Closed.
 */
async function admin(gate: SidecarUnderTest, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${gate.sidecar.adminUrl}${path}`);
  return { status: response.status, text: await response.text() };
}

async function metrics(gate: SidecarUnderTest): Promise<Sample[]> {
  return parseSamples((await admin(gate, '/metrics')).text);
}

/** A raw JSON-RPC POST to the MCP endpoint (no session: for stateless upstreams). */
async function rpc(gate: SidecarUnderTest, token: string | undefined, body: unknown) {
  const response = await fetch(gate.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
}

const listInvoices = {
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'list_invoices', arguments: { customer_id: 'acme' } },
};

describe('admin endpoint and metrics', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  let client: Client;

  beforeAll(async () => {
    upstream = await startHttpFixture('billing');
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
    client = await connectAs(gate, supportAgent);
  });
  afterAll(async () => {
    await client?.close();
    await gate?.stop();
    await upstream?.close();
  });

  it('is alive', async () => {
    expect(await admin(gate, '/healthz')).toEqual({ status: 200, text: '{"status":"ok"}' });
  });

  it('is ready with the hash of the policy in force, which the metrics report too', async () => {
    const { status, text } = await admin(gate, '/readyz');
    expect(status).toBe(200);
    const hash = gate.sidecar.context.policy.current!.hash;
    expect(hash).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(JSON.parse(text)).toMatchObject({ ready: true, policy: { hash } });
    const samples = await metrics(gate);
    expect(sampleValue(samples, 'portcullis_policy_info', { hash })).toBe(1);
    expect(samples.filter((s) => s.name === 'portcullis_policy_info')).toHaveLength(1);
    expect(sampleValue(samples, 'portcullis_kill_switch_engaged', { scope: 'server' })).toBe(0);
    expect(sampleValue(samples, 'portcullis_kill_switch_engaged', { scope: 'tools' })).toBe(0);
  });

  it('counts tool calls by tool and decision, refusals by code, and latency by decision', async () => {
    const before = await metrics(gate);
    const count = (samples: Sample[], name: string, labels: Record<string, string>) =>
      sampleValue(samples, name, labels) ?? 0;
    const moved = (after: Sample[], name: string, labels: Record<string, string>) =>
      count(after, name, labels) - count(before, name, labels);

    await client.callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'I-1' } });
    await client.callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'I-2' } });
    await client
      .callTool({ name: 'issue_refund', arguments: { customer_id: 'acme', amount_cents: 1 } })
      .catch(() => undefined);

    const after = await metrics(gate);
    const calls = 'portcullis_tool_calls_total';
    expect(moved(after, calls, { tool: 'read_invoice', decision: 'allowed' })).toBe(2);
    expect(moved(after, calls, { tool: 'issue_refund', decision: 'denied' })).toBe(1);
    expect(moved(after, 'portcullis_refusals_total', { code: 'no_matching_rule' })).toBe(1);
    const latency = 'portcullis_request_duration_seconds_count';
    expect(moved(after, latency, { decision: 'allowed' })).toBeGreaterThanOrEqual(2);
    expect(moved(after, latency, { decision: 'refused' })).toBe(1);
    expect(
      count(after, 'portcullis_request_duration_seconds_bucket', { decision: 'allowed', le: '+Inf' }),
    ).toBe(count(after, latency, { decision: 'allowed' }));
  });

  it('counts only tool calls as tool calls: a refused request without one is a refusal, not a tool', async () => {
    const response = await rpc(gate, undefined, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(response.status).toBe(401);
    const samples = await metrics(gate);
    expect(sampleValue(samples, 'portcullis_refusals_total', { code: 'missing_token' })).toBeGreaterThan(0);
    expect(
      samples.filter((s) => s.name === 'portcullis_tool_calls_total' && s.labels['tool'] === ''),
    ).toEqual([]);
  });

  it('counts requests in flight, such as an open event stream', async () => {
    const inFlight = async () => sampleValue(await metrics(gate), 'portcullis_requests_in_flight') ?? -1;
    const before = await inFlight();
    expect(before).toBeGreaterThanOrEqual(0);
    const other = await connectAs(gate, supportAgent);
    // The SDK client opens a standalone GET stream after initializing; it stays in flight while open.
    expect(await eventually(inFlight, (n) => n === before + 1)).toBe(before + 1);
    await other.close();
    expect(await eventually(inFlight, (n) => n === before)).toBe(before);
  });

  it('reports a server kill switch and refuses everything while it is engaged', async () => {
    const serverFile = join(gate.policyDir, 'server.yaml');
    const original = await readFile(serverFile, 'utf8');
    await writeFile(
      serverFile,
      original.replace(
        '  namespace: finance\n',
        '  namespace: finance\n  annotations:\n    portcullis.dev/kill-switch: "true"\n',
      ),
    );
    try {
      await gate.sidecar.source.reload();
      const samples = await metrics(gate);
      expect(sampleValue(samples, 'portcullis_kill_switch_engaged', { scope: 'server' })).toBe(1);
      const hash = gate.sidecar.context.policy.current!.hash;
      expect(sampleValue(samples, 'portcullis_policy_info', { hash })).toBe(1);
      expect(samples.filter((s) => s.name === 'portcullis_policy_info')).toHaveLength(1);
      const listed = await client.listTools().catch((e: Error) => e);
      expect(String(listed)).toContain('"code":"killed"');
      const called = await client
        .callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'I-1' } })
        .catch((e: Error) => e);
      expect(String(called)).toContain('"code":"killed"');
      expect(
        sampleValue(await metrics(gate), 'portcullis_tool_calls_total', {
          tool: 'read_invoice',
          decision: 'killed',
        }),
      ).toBe(1);
    } finally {
      await writeFile(serverFile, original);
      await gate.sidecar.source.reload();
    }
    expect(sampleValue(await metrics(gate), 'portcullis_kill_switch_engaged', { scope: 'server' })).toBe(0);
    expect((await client.listTools()).tools.length).toBe(3);
  });
});

describe('a sidecar started on an invalid policy', () => {
  let upstream: RecordingUpstream;
  let gate: SidecarUnderTest;

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    gate = await startSidecarUnderTest({
      policyFixture: 'broken',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('is alive but not ready, and says why', async () => {
    expect((await admin(gate, '/healthz')).status).toBe(200);
    const { status, text } = await admin(gate, '/readyz');
    expect(status).toBe(503);
    const body = JSON.parse(text) as { ready: boolean; reason: string; policy: Record<string, unknown> };
    expect(body.ready).toBe(false);
    expect(body.reason).toContain('no valid policy loaded');
    expect(body.reason).toContain('auth');
    expect(body.policy).not.toHaveProperty('hash');
    const samples = await metrics(gate);
    expect(sampleValue(samples, 'portcullis_policy_update_errors_total')).toBeGreaterThanOrEqual(1);
    expect(samples.filter((s) => s.name === 'portcullis_policy_info')).toEqual([]);
  });

  it('refuses every MCP request with policy_unavailable, 503 and Retry-After, forwarding nothing', async () => {
    const token = await gate.token(supportAgent);
    for (const body of [
      listInvoices,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      },
    ]) {
      const response = await rpc(gate, token, body);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(portcullisCode(response.body)).toBe('policy_unavailable');
      expect((response.body as { error: { code: number } }).error.code).toBe(-31021);
    }
    expect(upstream.requests).toEqual([]);
  });
});

describe('failurePolicy Closed when the policy source stops confirming', () => {
  let upstream: RecordingUpstream;
  let gate: SidecarUnderTest;
  let skewMs = 0;

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    gate = await startSidecarUnderTest({
      policyFixture: 'strict-staleness',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
      // The sidecar's clock runs ahead on demand, so the 5 s bound passes without waiting for it.
      clock: () => Date.now() + skewMs,
    });
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('refuses calls once the policy is older than maxStalenessSeconds, and recovers on confirmation', async () => {
    const token = await gate.token(supportAgent);
    expect((await rpc(gate, token, listInvoices)).status).toBe(200);

    gate.sidecar.source.stop();
    skewMs = 4000;
    expect((await rpc(gate, token, listInvoices)).status).toBe(200); // within the bound
    skewMs = 6000;
    const refused = await rpc(gate, token, listInvoices);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(portcullisCode(refused.body)).toBe('policy_unavailable');
    const ready = await admin(gate, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text).reason).toMatch(/unconfirmed for \d+ s \(bound 5 s\)/);
    expect(upstream.requests).toHaveLength(2);

    // A source that confirms the same policy again lifts the refusal.
    await gate.sidecar.source.reload();
    expect((await rpc(gate, token, listInvoices)).status).toBe(200);
    expect((await admin(gate, '/readyz')).status).toBe(200);
  });
});
