import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  egressPolicy,
  openTunnel,
  rawExchange,
  requestOverTunnel,
  scriptedResolver,
  startLoopbackUpstream,
  startProxyUnderTest,
  type LoopbackUpstream,
  type ProxyUnderTest,
} from '../../test/harness/egress.ts';

/**
 * Server-side request forgery through the egress proxy: every way we know to name a private, loopback,
 * link-local or metadata address, through HTTP forwarding and CONNECT. Each case must be refused with
 * the right code, audited, and refused BEFORE a connection attempt (the guard dialer records every
 * attempt, and refuses anything beyond loopback). DNS answers come from a scripted resolver.
 *
 * The policy allows: api.example.com on 80/443, *.example.org on 443, 10.40.0.0/16 on 5432, and the
 * loopback test server (127.0.0.1/32 on its port) for the positive cases.
 */
let upstream: LoopbackUpstream;
let gate: ProxyUnderTest;
let UP = 0;

const resolverTable = {
  'evil.example.org': ['169.254.169.254'],
  'private.example.org': ['10.0.0.5'],
  'loop.example.org': ['127.0.0.1'],
  'mapped.example.org': ['::ffff:169.254.169.254'],
  'v6metadata.example.org': ['fd00:ec2::254'],
  'mixed.example.org': ['93.184.216.34', '10.0.0.1'],
  'nat64.example.org': ['64:ff9b::a9fe:a9fe'],
  'sixto4.example.org': ['2002:a9fe:a9fe::1'],
  'cgnat.example.org': ['100.100.100.200'],
  'linklocal6.example.org': ['fe80::1'],
  'compat.example.org': ['::a9fe:a9fe'],
  'zero.example.org': ['0.0.0.0'],
  'empty.example.org': [],
  'garbage.example.org': ['not-an-address', '0251.0376.0251.0376'],
  'fail.example.org': new Error('SERVFAIL'),
  'other.internal': ['10.99.0.1'],
  'public.internal': ['93.184.216.34'],
  // Positive: a name the resolver maps to the allowed loopback address.
  'internal.test': ['127.0.0.1'],
  // DNS rebinding: the first answer is the allowed loopback server, every later one the metadata address.
  'rebind.test': { answers: [['127.0.0.1'], ['169.254.169.254']] },
} as const;

beforeAll(async () => {
  upstream = await startLoopbackUpstream();
  UP = upstream.port;
  gate = await startProxyUnderTest({
    policy: egressPolicy({
      allow: [
        { host: 'api.example.com', ports: [80, 443] },
        { host: '*.example.org', ports: [443] },
        { cidr: '10.40.0.0/16', ports: [5432] },
        { cidr: '127.0.0.1/32', ports: [UP] },
      ],
    }),
    resolver: scriptedResolver(resolverTable),
  });
});

afterAll(async () => {
  await gate?.stop();
  await upstream?.close();
});

const get = (uri: string, extra = '') =>
  `GET ${uri} HTTP/1.1\r\nHost: ignored.example\r\n${extra}Connection: close\r\n\r\n`;
const connectLine = (authority: string) => `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`;

interface Case {
  readonly name: string;
  /** The raw request (a function: some need the loopback server's port). */
  readonly request: () => string;
  readonly code: string;
  /** The address the audit event names (the one refused). */
  readonly address?: string;
  /** Whether the proxy may ask DNS (only names that some rule could allow are resolved). */
  readonly resolves?: boolean;
}

const refusals: readonly Case[] = [
  // IP literals in every spelling a resolver accepts: all are 169.254.169.254.
  {
    name: 'metadata, dotted quad',
    request: () => get('http://169.254.169.254/latest/meta-data/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, decimal',
    request: () => get('http://2852039166/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, octal',
    request: () => get('http://0251.0376.0251.0376/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, hex parts',
    request: () => get('http://0xa9.0xfe.0xa9.0xfe/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, one hex number',
    request: () => get('http://0xA9FEA9FE/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, three parts',
    request: () => get('http://169.254.43518/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, two parts',
    request: () => get('http://169.16689662/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, trailing dot',
    request: () => get('http://169.254.169.254./'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'metadata, percent-encoded',
    request: () => get('http://%31%36%39.254.169.254/'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  // IPv6 spellings.
  {
    name: 'IPv4-mapped metadata',
    request: () => get('http://[::ffff:169.254.169.254]/'),
    code: 'forbidden_address',
    address: '::ffff:a9fe:a9fe',
  },
  {
    name: 'IPv4-mapped metadata, hex',
    request: () => get('http://[::ffff:a9fe:a9fe]/'),
    code: 'forbidden_address',
    address: '::ffff:a9fe:a9fe',
  },
  {
    name: 'IPv4-compatible metadata',
    request: () => get('http://[::169.254.169.254]/'),
    code: 'forbidden_address',
    address: '::a9fe:a9fe',
  },
  {
    name: 'NAT64 metadata',
    request: () => get('http://[64:ff9b::169.254.169.254]/'),
    code: 'forbidden_address',
    address: '64:ff9b::a9fe:a9fe',
  },
  {
    name: '6to4 metadata',
    request: () => get('http://[2002:a9fe:a9fe::]/'),
    code: 'forbidden_address',
    address: '2002:a9fe:a9fe::',
  },
  {
    name: 'IPv6 loopback',
    request: () => get(`http://[::1]:${UP}/`),
    code: 'forbidden_address',
    address: '::1',
  },
  {
    name: 'IPv6 unspecified',
    request: () => get(`http://[::]:${UP}/`),
    code: 'forbidden_address',
    address: '::',
  },
  {
    name: 'IPv6 link-local',
    request: () => get('http://[fe80::1]/'),
    code: 'forbidden_address',
    address: 'fe80::1',
  },
  { name: 'IPv6 zone id', request: () => get('http://[fe80::1%25eth0]/'), code: 'invalid_request' },
  {
    name: 'AWS IPv6 metadata (unique local)',
    request: () => get('http://[fd00:ec2::254]/'),
    code: 'forbidden_address',
    address: 'fd00:ec2::254',
  },
  // Other special-use IPv4.
  {
    name: 'loopback on a port no cidr rule allows',
    request: () => get('http://127.0.0.1/'),
    code: 'forbidden_address',
    address: '127.0.0.1',
  },
  {
    name: 'loopback outside the /32',
    request: () => get(`http://127.0.0.2:${UP}/`),
    code: 'forbidden_address',
    address: '127.0.0.2',
  },
  {
    name: 'unspecified 0.0.0.0',
    request: () => get(`http://0.0.0.0:${UP}/`),
    code: 'forbidden_address',
    address: '0.0.0.0',
  },
  {
    name: 'unspecified as the number 0',
    request: () => get(`http://0:${UP}/`),
    code: 'forbidden_address',
    address: '0.0.0.0',
  },
  {
    name: 'private 10/8',
    request: () => get('http://10.0.0.1/'),
    code: 'forbidden_address',
    address: '10.0.0.1',
  },
  {
    name: 'private 172.16/12',
    request: () => get('http://172.16.5.4/'),
    code: 'forbidden_address',
    address: '172.16.5.4',
  },
  {
    name: 'private 192.168/16',
    request: () => get('http://192.168.1.1/'),
    code: 'forbidden_address',
    address: '192.168.1.1',
  },
  {
    name: 'CGNAT (Alibaba metadata)',
    request: () => get('http://100.100.100.200/'),
    code: 'forbidden_address',
    address: '100.100.100.200',
  },
  {
    name: 'multicast',
    request: () => get('http://224.0.0.1/'),
    code: 'forbidden_address',
    address: '224.0.0.1',
  },
  {
    name: 'broadcast',
    request: () => get('http://255.255.255.255/'),
    code: 'forbidden_address',
    address: '255.255.255.255',
  },
  {
    name: 'private address in an allowed range, wrong port',
    request: () => get('http://10.40.0.9:5433/'),
    code: 'forbidden_address',
    address: '10.40.0.9',
  },
  {
    name: 'public IP literal (cidr rules only)',
    request: () => get('http://8.8.8.8/'),
    code: 'address_not_allowed',
    address: '8.8.8.8',
  },
  // Names resolving to special-use addresses (DNS answers from the scripted resolver).
  {
    name: 'allowed name resolving to metadata',
    request: () => connectLine('evil.example.org:443'),
    code: 'forbidden_address',
    address: '169.254.169.254',
    resolves: true,
  },
  {
    name: 'allowed name resolving to 10/8',
    request: () => connectLine('private.example.org:443'),
    code: 'forbidden_address',
    address: '10.0.0.5',
    resolves: true,
  },
  {
    name: 'allowed name resolving to loopback',
    request: () => connectLine('loop.example.org:443'),
    code: 'forbidden_address',
    address: '127.0.0.1',
    resolves: true,
  },
  {
    name: 'allowed name resolving to mapped metadata',
    request: () => connectLine('mapped.example.org:443'),
    code: 'forbidden_address',
    address: '::ffff:a9fe:a9fe',
    resolves: true,
  },
  {
    name: 'allowed name resolving to AWS IPv6 metadata',
    request: () => connectLine('v6metadata.example.org:443'),
    code: 'forbidden_address',
    address: 'fd00:ec2::254',
    resolves: true,
  },
  {
    name: 'allowed name with one public and one private answer',
    request: () => connectLine('mixed.example.org:443'),
    code: 'forbidden_address',
    address: '10.0.0.1',
    resolves: true,
  },
  {
    name: 'allowed name resolving to NAT64 metadata',
    request: () => connectLine('nat64.example.org:443'),
    code: 'forbidden_address',
    address: '64:ff9b::a9fe:a9fe',
    resolves: true,
  },
  {
    name: 'allowed name resolving to 6to4 metadata',
    request: () => connectLine('sixto4.example.org:443'),
    code: 'forbidden_address',
    address: '2002:a9fe:a9fe::1',
    resolves: true,
  },
  {
    name: 'allowed name resolving to CGNAT',
    request: () => connectLine('cgnat.example.org:443'),
    code: 'forbidden_address',
    address: '100.100.100.200',
    resolves: true,
  },
  {
    name: 'allowed name resolving to IPv6 link-local',
    request: () => connectLine('linklocal6.example.org:443'),
    code: 'forbidden_address',
    address: 'fe80::1',
    resolves: true,
  },
  {
    name: 'allowed name resolving to IPv4-compatible',
    request: () => connectLine('compat.example.org:443'),
    code: 'forbidden_address',
    address: '::a9fe:a9fe',
    resolves: true,
  },
  {
    name: 'allowed name resolving to 0.0.0.0',
    request: () => connectLine('zero.example.org:443'),
    code: 'forbidden_address',
    address: '0.0.0.0',
    resolves: true,
  },
  {
    name: 'unlisted name on a cidr port, resolving to 10/8',
    request: () => get('http://other.internal:5432/'),
    code: 'forbidden_address',
    address: '10.99.0.1',
    resolves: true,
  },
  {
    name: 'unlisted name on a cidr port, public answer',
    request: () => get('http://public.internal:5432/'),
    code: 'address_not_allowed',
    address: '93.184.216.34',
    resolves: true,
  },
  {
    name: 'no DNS answer',
    request: () => connectLine('empty.example.org:443'),
    code: 'resolution_failed',
    resolves: true,
  },
  {
    name: 'DNS answers that are not addresses (no second parse)',
    request: () => connectLine('garbage.example.org:443'),
    code: 'resolution_failed',
    resolves: true,
  },
  {
    name: 'DNS failure',
    request: () => connectLine('fail.example.org:443'),
    code: 'resolution_failed',
    resolves: true,
  },
  // CONNECT to IP literals.
  {
    name: 'CONNECT to metadata',
    request: () => connectLine('169.254.169.254:443'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'CONNECT to mapped metadata',
    request: () => connectLine('[::ffff:169.254.169.254]:443'),
    code: 'forbidden_address',
    address: '::ffff:a9fe:a9fe',
  },
  {
    name: 'CONNECT to decimal metadata',
    request: () => connectLine('2852039166:80'),
    code: 'forbidden_address',
    address: '169.254.169.254',
  },
  {
    name: 'CONNECT to octal loopback',
    request: () => connectLine('0177.0.0.1:22'),
    code: 'forbidden_address',
    address: '127.0.0.1',
  },
  {
    name: 'CONNECT with a zone id',
    request: () => connectLine('[fe80::1%eth0]:443'),
    code: 'invalid_request',
  },
  // Ports and host matching (refused before any DNS query).
  {
    name: 'allowed host, port not allowed',
    request: () => connectLine('api.example.com:22'),
    code: 'port_not_allowed',
  },
  {
    name: 'case and trailing dot normalised (still the wrong port)',
    request: () => connectLine('API.Example.COM.:22'),
    code: 'port_not_allowed',
  },
  {
    name: 'absolute-form on port 80 where the wildcard allows 443',
    request: () => get('http://evil.example.org/'),
    code: 'port_not_allowed',
  },
  {
    name: 'allowed host as a prefix of another domain',
    request: () => connectLine('api.example.com.evil.net:443'),
    code: 'host_not_allowed',
  },
  {
    name: 'wildcard does not match the apex',
    request: () => connectLine('example.org:443'),
    code: 'host_not_allowed',
  },
  {
    name: 'wildcard suffix needs a dot boundary',
    request: () => connectLine('evilexample.org:443'),
    code: 'host_not_allowed',
  },
  {
    name: 'unlisted name on a port no cidr rule has',
    request: () => get('http://db.internal:5433/'),
    code: 'host_not_allowed',
  },
  // Malformed or smuggling request targets.
  {
    name: 'userinfo naming an allowed host',
    request: () => get('http://api.example.com@169.254.169.254/'),
    code: 'invalid_request',
  },
  {
    name: 'userinfo with a port',
    request: () => get('http://api.example.com:80@169.254.169.254/'),
    code: 'invalid_request',
  },
  {
    name: 'origin-form (not a proxy request) with a metadata Host',
    request: () => 'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n',
    code: 'invalid_request',
  },
  {
    name: 'https in absolute-form (CONNECT is for TLS)',
    request: () => get('https://api.example.com/'),
    code: 'invalid_request',
  },
  { name: 'another scheme', request: () => get('ftp://api.example.com/'), code: 'invalid_request' },
  {
    name: 'numeric host that is no IPv4 address',
    request: () => connectLine('1.2.3.999:443'),
    code: 'invalid_request',
  },
  {
    name: 'double trailing dot',
    request: () => connectLine('api.example.com..:443'),
    code: 'invalid_request',
  },
  { name: 'CONNECT without a port', request: () => connectLine('api.example.com'), code: 'invalid_request' },
  { name: 'CONNECT to port 0', request: () => connectLine('api.example.com:0'), code: 'invalid_request' },
  {
    name: 'CONNECT to port 99999',
    request: () => connectLine('api.example.com:99999'),
    code: 'invalid_request',
  },
  {
    name: 'CONNECT with a URL',
    request: () => connectLine('http://api.example.com:443/'),
    code: 'invalid_request',
  },
  {
    name: 'oversized headers',
    request: () => get('http://api.example.com/', `X-Padding: ${'a'.repeat(20_000)}\r\n`),
    code: 'headers_too_large',
  },
];

describe('SSRF: refused before any connection attempt', () => {
  it('has a table of at least 40 cases', () => {
    expect(refusals.length).toBeGreaterThanOrEqual(40);
  });

  it.each(refusals)('$name: $code', async (c) => {
    const dialsBefore = gate.dialer.attempts.length;
    const queriesBefore = gate.resolver.queries.length;
    const eventsBefore = gate.events().length;
    const response = await rawExchange(gate.port, c.request());
    expect(response.headers['x-portcullis-egress-code'], response.body).toBe(c.code);
    expect(response.status).toBe(
      { invalid_request: 400, headers_too_large: 431, resolution_failed: 502 }[c.code as string] ?? 403,
    );
    expect(gate.dialer.attempts.slice(dialsBefore)).toEqual([]);
    if (!c.resolves) expect(gate.resolver.queries.slice(queriesBefore)).toEqual([]);
    const events = gate.events().slice(eventsBefore);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      method: 'egress',
      decision: c.code === 'resolution_failed' ? 'errored' : 'denied',
      code: c.code,
      outcome: 'refused',
    });
    if (c.address) expect(events[0]!.egress?.address).toBe(c.address);
  });
});

describe('allowed: the loopback server, by cidr rule', () => {
  it.each([
    ['a dotted quad', () => `http://127.0.0.1:${UP}/hello?x=1`],
    ['a short form of the same address', () => `http://127.1:${UP}/hello?x=1`],
    ['its IPv4-mapped form', () => `http://[::ffff:7f00:1]:${UP}/hello?x=1`],
    ['a name the resolver maps to it', () => `http://internal.test:${UP}/hello?x=1`],
  ])('HTTP forwarding to %s', async (_, uri) => {
    const dialsBefore = gate.dialer.attempts.length;
    const response = await rawExchange(
      gate.port,
      `GET ${uri()} HTTP/1.1\r\nHost: 169.254.169.254\r\nProxy-Authorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n`,
    );
    expect(response.status).toBe(200);
    const echoed = JSON.parse(response.body) as {
      url: string;
      host: string;
      headers: Record<string, string>;
    };
    expect(echoed.url).toBe('/hello?x=1');
    // The Host header is the request target's authority, never the client's Host line.
    expect(echoed.host).toBe(new URL(uri()).host);
    expect(echoed.headers).not.toHaveProperty('proxy-authorization');
    expect(gate.dialer.attempts.slice(dialsBefore)).toEqual([`127.0.0.1:${UP}`]);
    const decision = gate.events().at(-1)!;
    expect(decision).toMatchObject({
      decision: 'allowed',
      egress: { protocol: 'http', address: '127.0.0.1', port: UP, rule: `cidr:127.0.0.1/32` },
    });
    expect(decision).not.toHaveProperty('outcome');
    expect(gate.closings().at(-1)).toMatchObject({ requestId: decision.requestId, outcome: 'ok' });
  });

  it.each([
    ['an IP literal', () => `127.0.0.1:${UP}`],
    ['a hex IP literal', () => `0x7f.1:${UP}`],
    ['a name the resolver maps to it', () => `internal.test:${UP}`],
  ])('CONNECT to %s, with HTTP inside the tunnel', async (_, authority) => {
    const tunnel = await openTunnel(gate.port, authority());
    if (!('socket' in tunnel)) throw new Error(`refused: ${tunnel.refused.body}`);
    const response = await requestOverTunnel(tunnel.socket, `127.0.0.1:${UP}`, '/inside');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ url: '/inside' });
    const decision = gate.events().at(-1)!;
    expect(decision).toMatchObject({
      decision: 'allowed',
      egress: { protocol: 'connect', address: '127.0.0.1' },
    });
    await expect.poll(() => gate.closings().at(-1)?.requestId).toBe(decision.requestId);
    const event = gate.closings().at(-1)!;
    expect(event).toMatchObject({ decision: 'allowed', outcome: 'ok', egress: { address: '127.0.0.1' } });
    expect(event.egress!.bytesSent).toBeGreaterThan(0);
    expect(event.egress!.bytesReceived).toBeGreaterThan(response.body.length);
  });
});

describe('DNS rebinding and redirects', () => {
  it('resolves once per connection and connects to the address it checked', async () => {
    const queriesBefore = gate.resolver.queries.length;
    const dialsBefore = gate.dialer.attempts.length;
    // First connection: the first answer (allowed loopback) is checked and connected to, asked once.
    const first = await rawExchange(gate.port, get(`http://rebind.test:${UP}/`));
    expect(first.status).toBe(200);
    expect(gate.resolver.queries.slice(queriesBefore)).toEqual(['rebind.test']);
    expect(gate.dialer.attempts.slice(dialsBefore)).toEqual([`127.0.0.1:${UP}`]);
    // Second connection: the name now answers the metadata address; refused, no connection attempt.
    const second = await rawExchange(gate.port, get(`http://rebind.test:${UP}/`));
    expect(second.headers['x-portcullis-egress-code']).toBe('forbidden_address');
    expect(gate.resolver.queries.slice(queriesBefore)).toEqual(['rebind.test', 'rebind.test']);
    expect(gate.dialer.attempts.slice(dialsBefore)).toEqual([`127.0.0.1:${UP}`]);
    expect(gate.events().at(-1)).toMatchObject({
      code: 'forbidden_address',
      egress: { address: '169.254.169.254' },
    });
  });

  it('passes a redirect back without following it; the second hop to the metadata address is refused', async () => {
    const dialsBefore = gate.dialer.attempts.length;
    const location = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
    const first = await rawExchange(
      gate.port,
      get(`http://127.0.0.1:${UP}/redirect?to=${encodeURIComponent(location)}`),
    );
    expect(first.status).toBe(302);
    expect(first.headers['location']).toBe(location);
    // The client follows, through the proxy again.
    const second = await rawExchange(gate.port, get(first.headers['location']!));
    expect(second.status).toBe(403);
    expect(second.headers['x-portcullis-egress-code']).toBe('forbidden_address');
    expect(gate.dialer.attempts.slice(dialsBefore)).toEqual([`127.0.0.1:${UP}`]);
  });
});
