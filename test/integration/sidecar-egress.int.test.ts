import { readFile, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch, ProxyAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  guardDialer,
  scriptedResolver,
  startLoopbackUpstream,
  type GuardDialer,
  type LoopbackUpstream,
  type ScriptedResolver,
} from '../harness/egress.ts';
import { createPki } from '../harness/pki.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * A real sidecar's egress proxy, used the way the server container uses it (HTTP_PROXY/HTTPS_PROXY)
 * with real HTTP clients: undici's ProxyAgent (absolute-form forwarding and CONNECT tunnels) and
 * node:http CONNECT. Its policy (a fixture, hot-reloaded) allows the loopback destinations by a
 * `cidr: 127.0.0.1/32` rule; names come from a scripted resolver (no real DNS), and the guard dialer
 * records every connection attempt and refuses anything beyond loopback.
 */
let destination: LoopbackUpstream;
let tls: { server: HttpsServer; port: number; ca: string; dir: string };
let gate: SidecarUnderTest;
let resolver: ScriptedResolver;
let dialer: GuardDialer;
let forwarding: ProxyAgent;
let tunnelling: ProxyAgent;

beforeAll(async () => {
  destination = await startLoopbackUpstream();
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-egress-tls-'));
  const pki = await createPki(dir);
  const server = createHttpsServer(
    { cert: await readFile(pki.servingCertFile), key: await readFile(pki.servingKeyFile) },
    (request, response) => {
      const body = JSON.stringify({ tls: true, url: request.url });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      response.end(body);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tls = {
    server,
    port: (server.address() as AddressInfo).port,
    ca: await readFile(pki.caCertFile, 'utf8'),
    dir,
  };

  resolver = scriptedResolver({
    'internal.partner.test': ['127.0.0.1'],
    // Allowed by its host rule, but it resolves to the metadata address.
    'api.partner.example': ['169.254.169.254'],
    'rebind.partner.test': { answers: [['127.0.0.1'], ['10.0.0.1']] },
  });
  dialer = guardDialer();
  gate = await startSidecarUnderTest({
    policyFixture: 'egress',
    upstream: { upstreamUrl: 'http://127.0.0.1:9/mcp' },
    audience: 'https://fetcher.mcp.example.com/mcp',
    egress: { resolve: resolver.resolve, dial: dialer.dial },
  });
  // The fixture's placeholder port becomes the destinations' real ports; the file source reloads it.
  const file = join(gate.policyDir, 'server.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('ports: [1]', `ports: [${destination.port}, ${tls.port}]`));
  await gate.sidecar.source.reload();
  expect(gate.sidecar.context.policy.current?.bundle.spec.egress?.allow?.[0]?.ports).toEqual([
    destination.port,
    tls.port,
  ]);
  forwarding = new ProxyAgent({ uri: gate.sidecar.egressUrl, requestTls: { ca: tls.ca } });
  tunnelling = new ProxyAgent({ uri: gate.sidecar.egressUrl, proxyTunnel: true });
});

afterAll(async () => {
  await forwarding?.close();
  await tunnelling?.close();
  await gate?.stop();
  await destination?.close();
  if (tls) {
    tls.server.closeAllConnections();
    await new Promise((resolve) => tls.server.close(resolve));
    await rm(tls.dir, { recursive: true, force: true });
  }
});

const egressEvents = () => gate.audit.events.filter((e) => e.method === 'egress');
const closings = () => gate.audit.events.filter((e) => e.method === 'egress/closed');

describe('the sidecar egress proxy with real clients', () => {
  it('forwards plain HTTP (absolute-form) to an allowed loopback destination', async () => {
    const response = await fetch(`${destination.origin}/hello?via=forward`, { dispatcher: forwarding });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      url: '/hello?via=forward',
      host: `127.0.0.1:${destination.port}`,
    });
    await expect.poll(() => closings().at(-1)?.requestId).toBe(egressEvents().at(-1)?.requestId);
    expect(closings().at(-1)).toMatchObject({ outcome: 'ok' });
    expect(egressEvents().at(-1)).toMatchObject({
      method: 'egress',
      decision: 'allowed',
      server: { namespace: 'default', name: 'fetcher' },
      policyHash: gate.sidecar.context.policy.current!.hash,
      egress: { protocol: 'http', address: '127.0.0.1', port: destination.port, rule: 'cidr:127.0.0.1/32' },
    });
  });

  it('tunnels plain HTTP with CONNECT when the client asks for it', async () => {
    const response = await fetch(`${destination.origin}/hello?via=tunnel`, { dispatcher: tunnelling });
    expect(await response.json()).toMatchObject({ url: '/hello?via=tunnel' });
    // The tunnel stays open for reuse: the decision is audited now, its end when it closes.
    expect(egressEvents().at(-1)).toMatchObject({ decision: 'allowed', egress: { protocol: 'connect' } });
  });

  it('tunnels TLS end to end (CONNECT, certificate checked by the client)', async () => {
    const response = await fetch(`https://127.0.0.1:${tls.port}/secure`, { dispatcher: forwarding });
    expect(await response.json()).toEqual({ tls: true, url: '/secure' });
  });

  it('reaches a name the resolver maps to loopback, because a cidr rule allows the address', async () => {
    const response = await fetch(`http://internal.partner.test:${destination.port}/by-name`, {
      dispatcher: forwarding,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ host: `internal.partner.test:${destination.port}` });
    expect(egressEvents().at(-1)?.egress).toMatchObject({
      host: 'internal.partner.test',
      address: '127.0.0.1',
    });
  });

  it('node:http CONNECT: tunnel up, bytes both ways, audited with the byte counts', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const url = new URL(gate.sidecar.egressUrl);
      const request = httpRequest({
        host: url.hostname,
        port: url.port,
        method: 'CONNECT',
        path: `internal.partner.test:${destination.port}`,
      });
      request.on('connect', (response, tunnel: Socket) =>
        response.statusCode === 200 ? resolve(tunnel) : reject(new Error(`CONNECT ${response.statusCode}`)),
      );
      request.on('error', reject);
      request.end();
    });
    const body = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.write(`GET /raw HTTP/1.1\r\nHost: internal.partner.test\r\nConnection: close\r\n\r\n`);
    });
    expect(body).toContain('"url":"/raw"');
    socket.destroy();
    const decision = egressEvents().findLast(
      (e) => e.egress?.protocol === 'connect' && e.egress.host === 'internal.partner.test',
    )!;
    await expect.poll(() => closings().find((e) => e.requestId === decision.requestId)).toBeDefined();
    const event = closings().find((e) => e.requestId === decision.requestId)!;
    expect(event.egress).toMatchObject({ protocol: 'connect', address: '127.0.0.1' });
    expect(event.egress!.bytesReceived).toBe(Buffer.byteLength(body, 'latin1'));
    expect(event.egress!.bytesSent).toBeGreaterThan(0);
  });

  it('a redirect to the metadata address is refused on the second hop, before any connection', async () => {
    const attempts = dialer.attempts.length;
    const metadata = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
    const response = await fetch(`${destination.origin}/redirect?to=${encodeURIComponent(metadata)}`, {
      dispatcher: forwarding,
      redirect: 'follow',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-portcullis-egress-code')).toBe('forbidden_address');
    expect(dialer.attempts.slice(attempts)).toEqual([`127.0.0.1:${destination.port}`]);
    expect(
      egressEvents()
        .slice(-2)
        .map((e) => [e.decision, e.egress?.host]),
    ).toEqual([
      ['allowed', '127.0.0.1'],
      ['denied', '169.254.169.254'],
    ]);
  });

  it('the same redirect through a CONNECT tunnel fails the client, not the metadata service', async () => {
    const attempts = dialer.attempts.length;
    const metadata = 'http://169.254.169.254/latest/meta-data/';
    await expect(
      fetch(`${destination.origin}/redirect?to=${encodeURIComponent(metadata)}`, { dispatcher: tunnelling }),
    ).rejects.toThrow();
    // The first hop may reuse an open tunnel; the second never reaches a socket.
    expect(dialer.attempts.slice(attempts).every((a) => a.startsWith('127.0.0.1:'))).toBe(true);
    expect(egressEvents().at(-1)).toMatchObject({
      decision: 'denied',
      code: 'forbidden_address',
      egress: { protocol: 'connect', target: '169.254.169.254:80' },
    });
  });

  it('an allowed host name that resolves to the metadata address is refused', async () => {
    const attempts = dialer.attempts.length;
    await expect(fetch('https://api.partner.example/v1', { dispatcher: forwarding })).rejects.toThrow();
    expect(dialer.attempts.slice(attempts)).toEqual([]);
    expect(egressEvents().at(-1)).toMatchObject({
      code: 'forbidden_address',
      egress: { host: 'api.partner.example', address: '169.254.169.254', port: 443 },
    });
  });

  it('DNS rebinding: each connection resolves once and connects to what it checked', async () => {
    const first = await fetch(`http://rebind.partner.test:${destination.port}/`, { dispatcher: forwarding });
    expect(first.status).toBe(200);
    await first.text();
    const second = await fetch(`http://rebind.partner.test:${destination.port}/`, { dispatcher: forwarding });
    expect(second.status).toBe(403);
    expect(resolver.queries.filter((q) => q === 'rebind.partner.test')).toHaveLength(2);
    expect(dialer.attempts).not.toContain(`10.0.0.1:${destination.port}`);
  });

  it('hot reload: a policy without the cidr rule refuses the destination from then on', async () => {
    const file = join(gate.policyDir, 'server.yaml');
    const before = await readFile(file, 'utf8');
    await writeFile(file, before.replace(/ *- cidr: 127\.0\.0\.1\/32\n\s+ports: \[[^\]]*\]\n/, ''));
    await gate.sidecar.source.reload();
    try {
      const response = await fetch(`${destination.origin}/after-reload`, { dispatcher: forwarding });
      expect(response.status).toBe(403);
      expect(response.headers.get('x-portcullis-egress-code')).toBe('forbidden_address');
    } finally {
      await writeFile(file, before);
      await gate.sidecar.source.reload();
    }
  });

  it('counts decisions and bytes in the sidecar metrics', async () => {
    const text = await (await fetch(`${gate.sidecar.adminUrl}/metrics`)).text();
    const samples = parseSamples(text);
    expect(
      sampleValue(samples, 'portcullis_egress_connections_total', { decision: 'allowed', code: 'ok' }),
    ).toBeGreaterThanOrEqual(5);
    expect(
      sampleValue(samples, 'portcullis_egress_connections_total', {
        decision: 'denied',
        code: 'forbidden_address',
      }),
    ).toBeGreaterThanOrEqual(4);
    expect(sampleValue(samples, 'portcullis_egress_bytes_total', { direction: 'received' })).toBeGreaterThan(
      0,
    );
  });
});
