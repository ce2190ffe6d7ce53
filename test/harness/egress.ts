import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';
import { mcpServer, type McpServerInput } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import { MemoryAuditSink } from '../../sidecar/audit/sink.ts';
import type { AuditEvent } from '../../sidecar/audit/event.ts';
import { createEgressMetrics } from '../../sidecar/egress/metrics.ts';
import type { Dialer, Resolver } from '../../sidecar/egress/net.ts';
import { systemDialer } from '../../sidecar/egress/net.ts';
import { createEgressProxy, type EgressLimits, type EgressProxy } from '../../sidecar/egress/proxy.ts';
import { PolicyHolder } from '../../sidecar/policy/policy-holder.ts';
import { loadExample } from '../fixtures/examples.ts';
import { cel } from '../../policy/cel.ts';

/**
 * Test support for the egress proxy. The network rule of these tests: traffic goes to loopback only.
 * The guard dialer records every connection attempt and refuses (without a socket) anything that is not
 * loopback; the scripted resolver answers from a table and never asks real DNS.
 */
export type EgressInput = NonNullable<McpServerInput['spec']['egress']>;

/** The billing example with the given spec.egress (and optionally its kill switch engaged). */
export function egressPolicy(
  egress: EgressInput | undefined,
  options: { killed?: boolean } = {},
): LoadedPolicy {
  const { servers, policies } = loadExample('billing.yaml');
  const base = servers[0]!;
  const server = mcpServer.parse({
    ...base,
    metadata: {
      ...base.metadata,
      annotations: { ...base.metadata.annotations, ...(options.killed ? { [KILL_SWITCH]: 'true' } : {}) },
    },
    spec: { ...base.spec, egress },
  });
  const result = compile({ server, policies, conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/;

export interface GuardDialer {
  readonly dial: Dialer;
  /** Every attempt, `address:port`, in order (refused ones included). */
  readonly attempts: string[];
}

/** Dials loopback only; anything else is recorded and refused before a socket exists. */
export function guardDialer(inner: Dialer = systemDialer): GuardDialer {
  const attempts: string[] = [];
  return {
    attempts,
    dial(address, port) {
      attempts.push(`${address}:${port}`);
      if (!LOOPBACK.test(address)) throw new Error(`test network rule: refusing to dial ${address}`);
      return inner(address, port);
    },
  };
}

export interface ScriptedResolver {
  readonly resolve: Resolver;
  /** Every name asked, in order. */
  readonly queries: string[];
}

/**
 * Answers from a table: a list of addresses, a list of successive answers (DNS rebinding: the n-th
 * query gets the n-th answer, the last one repeats), or an Error to throw. Unknown names: ENOTFOUND.
 */
export function scriptedResolver(
  table: Readonly<
    Record<string, readonly string[] | { readonly answers: readonly (readonly string[])[] } | Error>
  >,
): ScriptedResolver {
  const queries: string[] = [];
  const asked = new Map<string, number>();
  return {
    queries,
    async resolve(name) {
      queries.push(name);
      const entry = table[name];
      if (entry === undefined)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      if (entry instanceof Error) throw entry;
      if (Array.isArray(entry)) return entry as readonly string[];
      const answers = (entry as { answers: readonly (readonly string[])[] }).answers;
      const n = asked.get(name) ?? 0;
      asked.set(name, n + 1);
      return answers[Math.min(n, answers.length - 1)]!;
    },
  };
}

export interface ProxyUnderTest {
  readonly proxy: EgressProxy;
  readonly port: number;
  readonly holder: PolicyHolder;
  readonly audit: MemoryAuditSink;
  readonly registry: Registry;
  readonly dialer: GuardDialer;
  readonly resolver: ScriptedResolver;
  readonly logs: string[];
  /** Egress decisions (audit method `egress`). */
  events(): AuditEvent[];
  /** Ends of allowed connections (audit method `egress/closed`). */
  closings(): AuditEvent[];
  stop(): Promise<void>;
}

export async function startProxyUnderTest(options: {
  readonly policy?: LoadedPolicy;
  readonly resolver?: ScriptedResolver;
  readonly dialer?: GuardDialer;
  readonly limits?: Partial<EgressLimits>;
}): Promise<ProxyUnderTest> {
  const holder = new PolicyHolder();
  if (options.policy) holder.install(options.policy);
  const audit = new MemoryAuditSink();
  const registry = new Registry();
  const logs: string[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const dialer = options.dialer ?? guardDialer();
  const resolver = options.resolver ?? scriptedResolver({});
  const proxy = createEgressProxy({
    policy: holder,
    audit,
    metrics: createEgressMetrics(registry),
    log,
    resolve: resolver.resolve,
    dial: dialer.dial,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const address = await proxy.listen('127.0.0.1', 0);
  return {
    proxy,
    port: address.port,
    holder,
    audit,
    registry,
    dialer,
    resolver,
    logs,
    events: () => audit.events.filter((e) => e.method === 'egress'),
    closings: () => audit.events.filter((e) => e.method === 'egress/closed'),
    stop: () => proxy.close(),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const [statusLine, ...lines] = text.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers };
}

/** The body of a response read to the end, with chunked transfer coding removed. */
function bodyOf(headers: Record<string, string>, raw: string): string {
  if (!/chunked/i.test(headers['transfer-encoding'] ?? '')) return raw;
  let out = '';
  let rest = raw;
  for (let i = 0; i < 10_000; i++) {
    const line = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, line), 16);
    if (line < 0 || !(size > 0)) break;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
  return out;
}

function parseResponse(raw: string): RawResponse | undefined {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const head = parseHead(raw.slice(0, split));
  return { ...head, body: bodyOf(head.headers, raw.slice(split + 4)) };
}

/**
 * Sends raw bytes to a proxy on loopback and reads the response until the proxy closes the connection
 * (refusals always close it), bounded by timeoutMs.
 */
export function rawExchange(port: number, text: string | Buffer, timeoutMs = 3000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete response within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const response = parseResponse(raw);
      if (!response) return reject(new Error(`no response head: ${JSON.stringify(raw.slice(0, 200))}`));
      resolve(response);
    });
    socket.write(text);
  });
}

/** Opens a CONNECT tunnel through the proxy; resolves with the tunnel socket once the proxy says 200. */
export function openTunnel(
  proxyPort: number,
  authority: string,
  timeoutMs = 3000,
): Promise<{ socket: Socket; head: RawResponse } | { refused: RawResponse }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: proxyPort });
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`CONNECT ${authority}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', () => {});
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const split = buffer.indexOf('\r\n\r\n');
      if (split < 0) return;
      const head = parseHead(buffer.subarray(0, split).toString('latin1'));
      if (head.status === 200) {
        clearTimeout(timer);
        socket.off('data', onData);
        const rest = buffer.subarray(split + 4);
        if (rest.length > 0) socket.unshift(rest);
        resolve({ socket, head: { ...head, body: '' } });
      }
    };
    socket.on('data', onData);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = buffer.toString('latin1');
      const split = raw.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`CONNECT ${authority}: closed without an answer`));
      const head = parseHead(raw.slice(0, split));
      if (head.status !== 200) resolve({ refused: { ...head, body: raw.slice(split + 4) } });
    });
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** A plain HTTP request over an open tunnel socket; reads until the server closes. */
export function requestOverTunnel(
  socket: Socket,
  host: string,
  path: string,
  timeoutMs = 3000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response over the tunnel within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      const response = parseResponse(Buffer.concat(chunks).toString('latin1'));
      if (!response) return reject(new Error('tunnel closed without a response'));
      resolve(response);
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
}

export interface LoopbackUpstream {
  readonly port: number;
  readonly origin: string;
  /** Requests seen: method, url, Host header, and other headers. */
  readonly seen: { method: string; url: string; host: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

/**
 * A destination on 127.0.0.1: `/redirect?to=URL` answers 302, `/bytes?n=N` sends N bytes, `/hang` never
 * answers, anything else echoes what it received as JSON.
 */
export async function startLoopbackUpstream(): Promise<LoopbackUpstream> {
  const seen: LoopbackUpstream['seen'] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://upstream.invalid');
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      host: request.headers.host ?? '',
      headers: request.headers,
    });
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      if (url.pathname === '/redirect') {
        response.writeHead(302, { location: url.searchParams.get('to') ?? '/' });
        return response.end();
      }
      if (url.pathname === '/bytes') {
        const n = Number(url.searchParams.get('n') ?? '0');
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
        return response.end(Buffer.alloc(n, 97));
      }
      if (url.pathname === '/hang') return;
      const body = JSON.stringify({
        method: request.method,
        url: request.url,
        host: request.headers.host,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-upstream': 'loopback',
      });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
