import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { auditedBillingYaml } from '../fixtures/audited-billing.ts';
import { jwksOf, signingKey, signToken } from '../fixtures/auth/signing-keys.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { startOtelcol, type Otelcol } from '../harness/otelcol.ts';
import { recordPackageLoads } from '../harness/package-loads.ts';
import {
  startRecordingUpstream,
  type RecordedRequest,
  type RecordingUpstream,
} from '../harness/recording-upstream.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';
import { startSpanRecorder, type RecordedSpan, type SpanRecorder } from '../harness/span-recorder.ts';

/**
 * Traces end to end with real parts: MCP calls (an SDK client, and raw 2026-07-28 requests no SDK sends
 * yet) through a real `portcullis sidecar` process exporting OTLP to a real OpenTelemetry Collector, in
 * front of a recording upstream. Each call is checked three ways: the spans the collector passed on
 * (trace id, parent, attributes, stage events), the traceparent the upstream received (the sidecar's
 * client span, never the client's text), and the audit event (the same trace id and the server span).
 */
const ISSUER = 'https://id.example.com/realms/tracing';
const AUDIENCE = 'https://billing.tracing.example.com/mcp';
const MODERN = '2026-07-28';
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const STAGES = [
  'check-route',
  'read-body',
  'parse-messages',
  'check-protocol',
  'trace-context',
  'authenticate',
  'check-session',
  'gate-policy',
  'authorize-calls',
  'check-contracts',
  'limit-calls',
  'record-decision',
  'forward',
];

const hex = (bytes: number) =>
  Array.from({ length: bytes }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');
const traceparent = (traceId: string, spanId: string, flags = '01') => `00-${traceId}-${spanId}-${flags}`;

/** The parts of a traceparent the upstream received. */
function received(request: RecordedRequest): { traceId: string; spanId: string; flags: string } {
  const value = request.headers['traceparent'];
  expect(value).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
  const [, traceId, spanId, flags] = (value as string).split('-') as [string, string, string, string];
  return { traceId, spanId, flags };
}

describe('OpenTelemetry traces through a sidecar process', () => {
  let spans: SpanRecorder;
  let otelcol: Otelcol;
  let upstream: RecordingUpstream;
  let jwks: JsonServer;
  let sidecar: SidecarProcess;
  let token: string;
  /** The test's calls, by name, with what the client sent and what reached the upstream. */
  const calls = new Map<
    string,
    { client?: { traceId: string; spanId: string }; reached: RecordedRequest[] }
  >();
  let audit: AuditEvent[] = [];
  let loads: ReturnType<typeof recordPackageLoads>;

  const post = async (body: unknown, headers: Record<string, string>) => {
    const response = await fetch(sidecar.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
        ...headers,
      },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.text() };
  };
  const reachedDuring = async (send: () => Promise<unknown>) => {
    const before = upstream.requests.length;
    await send();
    return upstream.requests.slice(before);
  };
  const modernCall = (tool: string, meta: Record<string, unknown>, id: string) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: tool,
      arguments: { invoice_id: 'INV-1' },
      _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, ...meta },
    },
  });
  const modernHeaders = (tool: string) => ({
    'mcp-protocol-version': MODERN,
    'mcp-method': 'tools/call',
    'mcp-name': tool,
  });

  beforeAll(async () => {
    spans = await startSpanRecorder();
    otelcol = await startOtelcol({ forwardTo: spans.url });
    upstream = await startRecordingUpstream();
    const key = await signingKey('ES256', 'tracing-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    const dir = mkdtempSync(join(inject('scratchDir'), 'tracing-'));
    writeFileSync(
      join(dir, 'policy.yaml'),
      auditedBillingYaml({ namespace: 'tracing', issuer: ISSUER, audience: AUDIENCE, policyName: 'tracing' }),
    );
    loads = recordPackageLoads(dir);
    sidecar = await sidecarProcess({
      env: loads.env,
      args: [
        ...['--policy', join(dir, 'policy.yaml'), '--upstream', upstream.url],
        ...['--jwks-uri', `${jwks.origin}/jwks`, '--log-level', 'info'],
        ...['--otlp-traces-endpoint', `${otelcol.endpoint}/v1/traces`, '--trace-sample-ratio', '1'],
      ],
    });
    await sidecar.start();
    const now = Math.floor(Date.now() / 1000);
    token = await signToken(key, {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'alice',
      client_id: 'tracing-agent',
      iat: now,
      exp: now + 3600,
    });

    // 1. An SDK client whose every HTTP request carries a sampled traceparent and a tracestate.
    const sdk = { traceId: hex(16), spanId: hex(8) };
    const client = await connectHttpClient(sidecar.url, {
      headers: {
        authorization: `Bearer ${token}`,
        traceparent: traceparent(sdk.traceId, sdk.spanId),
        tracestate: 'vendor=abc, other=1',
      },
    });
    calls.set('sdk', {
      client: sdk,
      reached: await reachedDuring(() =>
        client.callTool({ name: 'read_invoice', arguments: { invoice_id: 'INV-1' } }),
      ),
    });
    await client.close();

    // 2. 2026-07-28: the context in params._meta wins over the header's.
    const meta = { traceId: hex(16), spanId: hex(8) };
    calls.set('meta', {
      client: meta,
      reached: await reachedDuring(() =>
        post(modernCall('read_invoice', { traceparent: traceparent(meta.traceId, meta.spanId) }, 'm-1'), {
          ...modernHeaders('read_invoice'),
          traceparent: traceparent(hex(16), hex(8)),
        }),
      ),
    });

    // 3. A malformed context (uppercase hex) everywhere: ignored; the sidecar starts a trace of its own.
    const bad = traceparent(hex(16).toUpperCase(), hex(8));
    calls.set('malformed', {
      reached: await reachedDuring(() =>
        post(modernCall('read_invoice', { traceparent: bad, tracestate: 'x=1' }, 'b-1'), {
          ...modernHeaders('read_invoice'),
          traceparent: bad,
        }),
      ),
    });

    // 4. A refused call (no rule allows issue_refund): a span that says so, nothing upstream.
    const refused = { traceId: hex(16), spanId: hex(8) };
    calls.set('refused', {
      client: refused,
      reached: await reachedDuring(() =>
        post(
          { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'issue_refund', arguments: {} } },
          { traceparent: traceparent(refused.traceId, refused.spanId) },
        ),
      ),
    });

    // SIGTERM: the sidecar exports the spans it buffered before it exits, and flushes its log.
    await sidecar.stop();
    audit = readFileSync(sidecar.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"msg":"audit"'))
      .map((line) => (JSON.parse(line) as { audit: AuditEvent }).audit);
  }, 120_000);

  afterAll(async () => {
    await sidecar?.kill();
    await otelcol?.stop();
    await spans?.close();
    await upstream?.close();
    await jwks?.close();
  });

  const serverSpan = (traceId: string, tool: string): RecordedSpan => {
    const found = spans.spans.filter(
      (s) => s.traceId === traceId && s.kind === SERVER && s.attributes['gen_ai.tool.name'] === tool,
    );
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const childOf = (span: RecordedSpan): RecordedSpan[] =>
    spans.spans.filter((s) => s.traceId === span.traceId && s.parentSpanId === span.spanId);
  const auditFor = (tool: string, traceId: string) =>
    audit.filter((e) => e.tool === tool && e.traceId === traceId);

  it('loads the OpenTelemetry SDK when tracing is on (the load recorder sees it)', () => {
    expect(loads.packages().has('@opentelemetry/sdk-trace')).toBe(true);
  });

  it('joins the client trace from the traceparent header and sends the server its own client span', () => {
    const { client, reached } = calls.get('sdk')!;
    const call = reached.find((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call')!;
    const upstreamContext = received(call);
    expect(upstreamContext.traceId).toBe(client!.traceId);
    expect(upstreamContext.spanId).not.toBe(client!.spanId);
    expect(upstreamContext.flags).toBe('01');
    expect(call.headers['tracestate']).toBe('vendor=abc,other=1'); // normalised, not the client's text

    const server = serverSpan(client!.traceId, 'read_invoice');
    expect(server.parentSpanId).toBe(client!.spanId);
    expect(server.name).toBe('tools/call read_invoice');
    expect(server.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'read_invoice',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
      'portcullis.decision': 'allowed',
      'portcullis.server': 'tracing/billing',
      'portcullis.trace_context.carrier': 'header',
    });
    expect(server.attributes['jsonrpc.request.id']).toBeDefined();
    expect(server.attributes['error.type']).toBeUndefined();
    // Nothing about who called or with what: that is the audit trail's.
    expect(JSON.stringify(server)).not.toContain('alice');
    expect(JSON.stringify(server)).not.toContain('INV-1');
    expect(server.events.map((e) => e.name)).toEqual(STAGES);
    expect(server.events.every((e) => e.attributes['portcullis.stage.result'] === 'continue')).toBe(true);
    expect(server.resource['service.name']).toBe('portcullis-sidecar');

    const [hop] = childOf(server);
    expect(hop).toMatchObject({
      kind: CLIENT,
      name: 'tools/call read_invoice',
      spanId: upstreamContext.spanId,
    });
    expect(hop!.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'mcp.method.name': 'tools/call' });

    // The SDK's initialize and tools/list were traced in the same trace too.
    const methods = spans.spans
      .filter((s) => s.traceId === client!.traceId && s.kind === SERVER)
      .map((s) => s.attributes['mcp.method.name']);
    expect(methods).toEqual(expect.arrayContaining(['initialize', 'tools/call']));

    const events = auditFor('read_invoice', client!.traceId);
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(event.spanId).toBe(server.spanId);
  });

  it('takes the 2026-07-28 context from params._meta and rewrites _meta for the server', () => {
    const { client, reached } = calls.get('meta')!;
    expect(reached).toHaveLength(1);
    const upstreamContext = received(reached[0]!);
    expect(upstreamContext.traceId).toBe(client!.traceId);
    const meta = (reached[0]!.body as { params: { _meta: Record<string, unknown> } }).params._meta;
    expect(meta['traceparent']).toBe(reached[0]!.headers['traceparent']);
    expect(meta['io.modelcontextprotocol/protocolVersion']).toBe(MODERN);

    const server = serverSpan(client!.traceId, 'read_invoice');
    expect(server.parentSpanId).toBe(client!.spanId);
    expect(server.attributes).toMatchObject({
      'mcp.protocol.version': MODERN,
      'jsonrpc.request.id': 'm-1',
      'portcullis.trace_context.carrier': 'meta',
    });
    expect(childOf(server).map((s) => s.spanId)).toEqual([upstreamContext.spanId]);
    expect(auditFor('read_invoice', client!.traceId).map((e) => e.spanId)).toContain(server.spanId);
  });

  it('ignores a malformed context: a new trace, and nothing of the client text reaches the server', () => {
    const { reached } = calls.get('malformed')!;
    expect(reached).toHaveLength(1);
    const upstreamContext = received(reached[0]!);
    expect(reached[0]!.headers['tracestate']).toBeUndefined();
    const meta = (reached[0]!.body as { params: { _meta: Record<string, unknown> } }).params._meta;
    expect(meta['traceparent']).toBe(reached[0]!.headers['traceparent']);
    expect(meta['tracestate']).toBeUndefined();

    const server = serverSpan(upstreamContext.traceId, 'read_invoice');
    expect(server.parentSpanId).toBeUndefined();
    expect(server.attributes['portcullis.trace_context.carrier']).toBeUndefined();
    expect(auditFor('read_invoice', upstreamContext.traceId).length).toBeGreaterThan(0);
  });

  it('records a refusal on the span, in the client trace, without a hop to the server', () => {
    const { client, reached } = calls.get('refused')!;
    expect(reached).toHaveLength(0);
    const server = serverSpan(client!.traceId, 'issue_refund');
    expect(server.parentSpanId).toBe(client!.spanId);
    expect(server.status.code).toBe(ERROR);
    expect(server.attributes['portcullis.decision']).toBe('refused');
    expect(server.attributes['error.type']).toBe('no_matching_rule');
    expect(server.attributes['rpc.response.status_code']).toBe('-31010');
    const last = server.events.at(-1)!;
    expect(last).toMatchObject({
      name: 'authorize-calls',
      attributes: { 'portcullis.stage.result': 'refused', 'portcullis.stage.code': 'no_matching_rule' },
    });
    expect(childOf(server)).toHaveLength(0);
    const [event] = auditFor('issue_refund', client!.traceId);
    expect(event).toMatchObject({ decision: 'denied', traceId: client!.traceId, spanId: server.spanId });
  });
});

describe('tracing off (the default)', () => {
  let upstream: RecordingUpstream;
  let jwks: JsonServer;
  let sidecar: SidecarProcess;
  let loads: ReturnType<typeof recordPackageLoads>;

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    const key = await signingKey('ES256', 'tracing-off-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    const dir = mkdtempSync(join(inject('scratchDir'), 'tracing-off-'));
    writeFileSync(
      join(dir, 'policy.yaml'),
      auditedBillingYaml({ namespace: 'tracing', issuer: ISSUER, audience: AUDIENCE, policyName: 'off' }),
    );
    loads = recordPackageLoads(dir);
    sidecar = await sidecarProcess({
      env: loads.env,
      args: [
        ...['--policy', join(dir, 'policy.yaml'), '--upstream', upstream.url],
        ...['--jwks-uri', `${jwks.origin}/jwks`, '--log-level', 'info'],
      ],
    });
    await sidecar.start();
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, {
      ...{ iss: ISSUER, aud: AUDIENCE, sub: 'alice', client_id: 'tracing-agent' },
      ...{ iat: now, exp: now + 3600 },
    });
    const client = await connectHttpClient(sidecar.url, {
      headers: { authorization: `Bearer ${token}`, traceparent: CLIENT_CONTEXT },
    });
    await client.callTool({ name: 'read_invoice', arguments: { invoice_id: 'INV-2' } });
    await client.close();
    await sidecar.stop();
  }, 120_000);

  afterAll(async () => {
    await sidecar?.kill();
    await upstream?.close();
    await jwks?.close();
  });

  const CLIENT_TRACE = 'a'.repeat(31) + '1';
  const CLIENT_CONTEXT = `cc-${CLIENT_TRACE}-${'b'.repeat(16)}-01-later-fields`;

  it('never loads the OpenTelemetry SDK or exporter', () => {
    // @opentelemetry/api itself is prom-client's (its process CPU metric reads the active span for
    // exemplars) and was loaded before tracing existed: it is a few small no-op objects.
    const loaded = [...loads.packages()].filter((name) => name.startsWith('@opentelemetry/'));
    expect(loaded.filter((name) => name !== '@opentelemetry/api')).toEqual([]);
  });

  it('passes a valid client context on, re-formatted as version 00, and audits its trace id', () => {
    const call = upstream.requests.find(
      (r) => (r.body as { method?: string } | undefined)?.method === 'tools/call',
    );
    expect(call?.headers['traceparent']).toBe(`00-${CLIENT_TRACE}-${'b'.repeat(16)}-01`);
    const audit = readFileSync(sidecar.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"msg":"audit"'))
      .map((line) => (JSON.parse(line) as { audit: AuditEvent }).audit)
      .filter((event) => event.tool === 'read_invoice');
    expect(audit.length).toBeGreaterThan(0);
    for (const event of audit) {
      expect(event.traceId).toBe(CLIENT_TRACE);
      expect(event.spanId).toBeUndefined();
    }
  });
});
