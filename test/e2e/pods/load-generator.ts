// Runs in a client pod of the e2e cluster: a lean open-loop load generator for the figures (the sidecar's
// memory at 1,000 calls/s), where the SDK client's own CPU stops near 280 calls/s on this node. After a
// real initialize handshake it sends tools/call as JSON-RPC POSTs (Streamable HTTP) over a pool of
// keep-alive connections, and checks every answer: a JSON-RPC result for its own id, not a tool error,
// from a JSON body or an SSE event. Prints one summary line, with the client-side latency percentiles.
//
//   env PLAN  JSON: { idp, clientId, secret, resource, scope, url, address?, tool, args, rate, concurrency,
//                     seconds }; `address` (http://IP:PORT) connects to one pod while the Host header
//                     stays the url's (the sidecar refuses hosts it does not serve)
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import { clientToken, type TokenRequest } from './client-token.ts';

interface Plan extends TokenRequest {
  readonly url: string;
  readonly address?: string;
  readonly tool: string;
  readonly args?: Record<string, unknown>;
  readonly rate: number;
  readonly concurrency: number;
  readonly seconds: number;
}

interface Answer {
  readonly id?: unknown;
  readonly result?: { isError?: boolean };
  readonly error?: { data?: { portcullis?: { code?: string } } };
}

const plan = JSON.parse(process.env['PLAN'] ?? '{}') as Plan;
const target = new URL(plan.url);
const pool = new Pool(plan.address ?? target.origin, { connections: plan.concurrency, pipelining: 1 });
const headers: Record<string, string> = {
  host: target.host,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  authorization: `Bearer ${await clientToken(plan)}`,
};

/** The JSON-RPC message of an answer with this id: the body itself, or one of its SSE events. */
function answerOf(contentType: string, body: string, id: number): Answer | undefined {
  if (!contentType.startsWith('text/event-stream')) return JSON.parse(body) as Answer;
  for (const line of body.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const message = JSON.parse(line.slice(5)) as Answer;
    if (message.id === id) return message;
  }
  return undefined;
}

async function post(message: Record<string, unknown>): Promise<{ answer?: Answer; session?: string }> {
  const response = await pool.request({
    method: 'POST',
    path: target.pathname,
    headers,
    body: JSON.stringify(message),
  });
  const body = await response.body.text();
  const session = response.headers['mcp-session-id'];
  const contentType = String(response.headers['content-type'] ?? '');
  const answer =
    typeof message['id'] === 'number' && body !== '' ? answerOf(contentType, body, message['id']) : undefined;
  return { ...(answer ? { answer } : {}), ...(typeof session === 'string' ? { session } : {}) };
}

// 1. The handshake, as any client does it; a session id, when the server gives one, goes on every call.
const initialized = await post({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'portcullis-e2e-load', version: '1.0.0' },
  },
});
if (initialized.answer?.result === undefined) throw new Error(`initialize: ${JSON.stringify(initialized)}`);
if (initialized.session !== undefined) headers['mcp-session-id'] = initialized.session;
headers['mcp-protocol-version'] = LATEST_PROTOCOL_VERSION;
await post({ jsonrpc: '2.0', method: 'notifications/initialized' });

// 2. The load: call n is due n / rate seconds in; at most `concurrency` in flight (a late call waits).
const latencies = new Float64Array(Math.ceil(plan.rate * plan.seconds) + 1);
const refusals = new Map<string, number>();
let issued = 0;
let ok = 0;
let failed = 0;
let inFlight = 0;
const started = performance.now();
const end = started + plan.seconds * 1000;

async function callOnce(id: number): Promise<void> {
  const sent = performance.now();
  try {
    const { answer } = await post({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: plan.tool, arguments: plan.args ?? {} },
    });
    if (answer?.result !== undefined && answer.result.isError !== true) {
      latencies[ok] = performance.now() - sent;
      ok += 1;
    } else {
      failed += 1;
      const code = answer?.error?.data?.portcullis?.code ?? 'no_result';
      refusals.set(code, (refusals.get(code) ?? 0) + 1);
    }
  } catch (error) {
    failed += 1;
    const code = (error as { code?: string }).code ?? 'transport';
    refusals.set(code, (refusals.get(code) ?? 0) + 1);
  } finally {
    inFlight -= 1;
  }
}

const running = new Set<Promise<void>>();
while (performance.now() < end) {
  const due = Math.min(
    Math.floor(((performance.now() - started) * plan.rate) / 1000) + 1,
    latencies.length - 1,
  );
  while (issued < due && inFlight < plan.concurrency) {
    issued += 1;
    inFlight += 1;
    const one: Promise<void> = callOnce(issued).then(() => {
      running.delete(one);
    });
    running.add(one);
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await Promise.all(running);
const seconds = (performance.now() - started) / 1000;
const sorted = latencies.subarray(0, ok).sort();
const percentile = (p: number) => Math.round((sorted[Math.max(0, Math.ceil(p * ok) - 1)] ?? 0) * 100) / 100;
console.log(
  JSON.stringify({
    at: Date.now(),
    load: true,
    issued,
    okCalls: ok,
    failedCalls: failed,
    refusals: Object.fromEntries(refusals),
    seconds,
    rate: Math.round(ok / seconds),
    latencyMs: { p50: percentile(0.5), p99: percentile(0.99), p999: percentile(0.999) },
  }),
);
await pool.close();
