import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { parseSamples, sampleValue } from '../../test/harness/prometheus-text.ts';
import {
  egressPolicy,
  guardDialer,
  openTunnel,
  rawExchange,
  scriptedResolver,
  startLoopbackUpstream,
  startProxyUnderTest,
  type EgressInput,
  type LoopbackUpstream,
  type ProxyUnderTest,
} from '../../test/harness/egress.ts';
import { systemDialer } from './net.ts';

/**
 * The egress proxy's limits and lifecycle: connection slots, bytes per connection, idle timeout,
 * policy changes and kill switches applied to open connections, connect failures, metrics. Every
 * destination is on loopback.
 */
let echo: Server;
let ECHO = 0;
let upstream: LoopbackUpstream;
const started: ProxyUnderTest[] = [];

beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  ECHO = (echo.address() as AddressInfo).port;
  upstream = await startLoopbackUpstream();
});

afterAll(async () => {
  await upstream.close();
  await new Promise((resolve) => echo.close(resolve));
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

const loopback = (ports: number[], maxConnections?: number): EgressInput => ({
  allow: [{ cidr: '127.0.0.1/32', ports }],
  ...(maxConnections ? { maxConnections } : {}),
});

async function start(options: Parameters<typeof startProxyUnderTest>[0]): Promise<ProxyUnderTest> {
  const gate = await startProxyUnderTest(options);
  started.push(gate);
  return gate;
}

async function tunnelTo(gate: ProxyUnderTest, authority: string): Promise<Socket> {
  const tunnel = await openTunnel(gate.port, authority);
  if (!('socket' in tunnel)) throw new Error(`refused: ${tunnel.refused.body}`);
  return tunnel.socket;
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

async function metric(gate: ProxyUnderTest, name: string, labels: Record<string, string> = {}) {
  return sampleValue(parseSamples(await gate.registry.metrics()), name, labels);
}

describe('egress limits', () => {
  it('never opens more than maxConnections at once, and frees the slot when one closes', async () => {
    const gate = await start({ policy: egressPolicy(loopback([ECHO], 2)) });
    const a = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    const b = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    expect(gate.proxy.active).toBe(2);
    const third = await openTunnel(gate.port, `127.0.0.1:${ECHO}`);
    expect(third).toMatchObject({
      refused: {
        status: 503,
        headers: { 'x-portcullis-egress-code': 'connection_limit', 'retry-after': '1' },
      },
    });
    expect(await metric(gate, 'portcullis_egress_connections_active')).toBe(2);
    a.destroy();
    await expect.poll(() => gate.proxy.active).toBe(1);
    const c = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    expect(gate.proxy.active).toBe(2);
    b.destroy();
    c.destroy();
    await expect.poll(() => gate.proxy.active).toBe(0);
    expect(
      await metric(gate, 'portcullis_egress_connections_total', {
        decision: 'denied',
        code: 'connection_limit',
      }),
    ).toBe(1);
    expect(
      await metric(gate, 'portcullis_egress_connections_total', { decision: 'allowed', code: 'ok' }),
    ).toBe(3);
  });

  it('closes a tunnel that carries more than the byte budget, and says so in audit', async () => {
    const gate = await start({
      policy: egressPolicy(loopback([ECHO])),
      limits: { maxBytesPerConnection: 1000 },
    });
    const socket = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    socket.on('data', () => {});
    socket.write(Buffer.alloc(400));
    socket.write(Buffer.alloc(400));
    await expect.poll(() => gate.closings().length).toBe(1);
    await closed(socket);
    const event = gate.closings()[0]!;
    expect(event).toMatchObject({ decision: 'allowed', code: 'byte_limit', outcome: 'cancelled' });
    const total = event.egress!.bytesSent! + event.egress!.bytesReceived!;
    expect(total).toBeGreaterThan(1000);
    expect(total).toBeLessThanOrEqual(1000 + 800);
    expect(await metric(gate, 'portcullis_egress_bytes_total', { direction: 'sent' })).toBe(800);
  });

  it('cuts an HTTP response that exceeds the byte budget', async () => {
    const gate = await start({
      policy: egressPolicy(loopback([upstream.port])),
      limits: { maxBytesPerConnection: 10_000 },
    });
    const response = await rawExchange(
      gate.port,
      `GET http://127.0.0.1:${upstream.port}/bytes?n=200000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ).catch((error: Error) => error);
    // The head was sent; the body stops short of what content-length promised.
    if (!(response instanceof Error)) expect(response.body.length).toBeLessThan(200_000);
    await expect.poll(() => gate.closings().at(-1)?.code).toBe('byte_limit');
  });

  it('closes a tunnel idle for longer than the idle timeout', async () => {
    const gate = await start({ policy: egressPolicy(loopback([ECHO])), limits: { idleTimeoutMs: 150 } });
    const socket = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    const t0 = performance.now();
    await closed(socket);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    await expect
      .poll(() => gate.closings().at(-1))
      .toMatchObject({ code: 'idle_timeout', outcome: 'timeout' });
    expect(await metric(gate, 'portcullis_egress_connections_closed_total', { code: 'idle_timeout' })).toBe(
      1,
    );
  });

  it('answers 504 when the destination accepts but never answers an HTTP request', async () => {
    const gate = await start({
      policy: egressPolicy(loopback([upstream.port])),
      limits: { idleTimeoutMs: 150 },
    });
    const response = await rawExchange(
      gate.port,
      `GET http://127.0.0.1:${upstream.port}/hang HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(response.status).toBe(504);
    expect(response.headers['x-portcullis-egress-code']).toBe('idle_timeout');
  });
});

describe('egress policy lifecycle', () => {
  it('refuses everything until a policy is loaded', async () => {
    const gate = await start({});
    const response = await rawExchange(gate.port, `CONNECT 127.0.0.1:${ECHO} HTTP/1.1\r\n\r\n`);
    expect(response.status).toBe(503);
    expect(response.headers['x-portcullis-egress-code']).toBe('policy_unavailable');
    expect(gate.dialer.attempts).toEqual([]);
  });

  it('refuses everything when the server has no spec.egress (default deny)', async () => {
    const gate = await start({ policy: egressPolicy(undefined) });
    const response = await rawExchange(gate.port, `GET http://127.0.0.1:${upstream.port}/ HTTP/1.1\r\n\r\n`);
    expect(response.headers['x-portcullis-egress-code']).toBe('forbidden_address');
    expect(gate.dialer.attempts).toEqual([]);
  });

  it('closes open connections that a new policy no longer allows, and keeps those it does', async () => {
    const gate = await start({
      policy: egressPolicy({ allow: [{ cidr: '127.0.0.1/32', ports: [ECHO, upstream.port] }] }),
      resolver: scriptedResolver({ 'echo.test': ['127.0.0.1'] }),
    });
    const revoked = await tunnelTo(gate, `echo.test:${ECHO}`);
    const kept = await tunnelTo(gate, `127.0.0.1:${upstream.port}`);
    gate.holder.install(egressPolicy({ allow: [{ cidr: '127.0.0.1/32', ports: [upstream.port] }] }));
    await closed(revoked);
    await expect.poll(() => gate.closings().length).toBe(1);
    expect(gate.closings()[0]).toMatchObject({
      code: 'revoked',
      outcome: 'cancelled',
      egress: { host: 'echo.test' },
    });
    expect(gate.closings()[0]!.reason).toContain('no longer allowed');
    expect(kept.destroyed).toBe(false);
    // Rechecking resolved nothing again.
    expect(gate.resolver.queries).toEqual(['echo.test']);
    kept.destroy();
  });

  it('a kill switch on the server closes its egress and refuses new connections', async () => {
    const gate = await start({ policy: egressPolicy(loopback([ECHO])) });
    const socket = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    gate.holder.install(egressPolicy(loopback([ECHO]), { killed: true }));
    await closed(socket);
    const response = await rawExchange(gate.port, `CONNECT 127.0.0.1:${ECHO} HTTP/1.1\r\n\r\n`);
    expect(response.status).toBe(403);
    expect(response.headers['x-portcullis-egress-code']).toBe('killed');
    expect(gate.closings().map((e) => e.code)).toEqual(['revoked']);
    expect(gate.events().map((e) => e.code ?? e.decision)).toEqual(['allowed', 'killed']);
  });

  it('closes tunnels and audits them when the proxy stops', async () => {
    const gate = await startProxyUnderTest({ policy: egressPolicy(loopback([ECHO])) });
    const socket = await tunnelTo(gate, `127.0.0.1:${ECHO}`);
    await gate.stop();
    await closed(socket);
    expect(gate.closings()).toMatchObject([{ decision: 'allowed', code: 'shutdown', outcome: 'cancelled' }]);
  });
});

describe('egress connection failures', () => {
  it('reports a refused connection as errored, 502', async () => {
    const unused = createServer();
    await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
    const port = (unused.address() as AddressInfo).port;
    await new Promise((resolve) => unused.close(resolve));
    const gate = await start({ policy: egressPolicy(loopback([port])) });
    const response = await rawExchange(gate.port, `CONNECT 127.0.0.1:${port} HTTP/1.1\r\n\r\n`);
    expect(response.status).toBe(502);
    expect(gate.events().at(-1)).toMatchObject({
      decision: 'errored',
      code: 'connect_failed',
      egress: { address: '127.0.0.1' },
    });
    expect(gate.proxy.active).toBe(0);
  });

  it('times out a connection that never completes (504)', async () => {
    const dialer = guardDialer(() => new Socket());
    const gate = await start({
      policy: egressPolicy(loopback([ECHO])),
      dialer,
      limits: { connectTimeoutMs: 100 },
    });
    const response = await rawExchange(gate.port, `CONNECT 127.0.0.1:${ECHO} HTTP/1.1\r\n\r\n`);
    expect(response.status).toBe(504);
    expect(response.headers['x-portcullis-egress-code']).toBe('connect_timeout');
    expect(gate.proxy.active).toBe(0);
  });

  it('times out DNS that never answers', async () => {
    const gate = await start({
      policy: egressPolicy({ allow: [{ host: 'slow.example.com', ports: [443] }] }),
      resolver: { queries: [], resolve: () => new Promise(() => {}) },
      limits: { resolveTimeoutMs: 100 },
    });
    const response = await rawExchange(gate.port, `CONNECT slow.example.com:443 HTTP/1.1\r\n\r\n`);
    expect(response.headers['x-portcullis-egress-code']).toBe('resolution_failed');
    expect(gate.events().at(-1)!.reason).toContain('longer than 100 ms');
    expect(gate.proxy.active).toBe(0);
  });

  it('checks the peer it reached: a dialer that lands elsewhere is refused', async () => {
    // Asked for the echo server, this dialer connects to the HTTP upstream instead.
    const dialer = guardDialer((address) => systemDialer(address, upstream.port));
    const gate = await start({ policy: egressPolicy(loopback([ECHO, upstream.port])), dialer });
    const response = await rawExchange(gate.port, `CONNECT 127.0.0.1:${ECHO} HTTP/1.1\r\n\r\n`);
    expect(response.status).toBe(502);
    expect(gate.events().at(-1)!.reason).toContain('not the checked 127.0.0.1');
  });
});
