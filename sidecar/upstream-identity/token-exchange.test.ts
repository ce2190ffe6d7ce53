import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { b64url } from '../../test/fixtures/auth/signing-keys.ts';
import { principal } from '../../test/fixtures/principals.ts';
import { SubjectToken } from './subject-token.ts';
import {
  basicAuthorization,
  createTokenExchanger,
  reuseUntil,
  TOKEN_EXCHANGE_GRANT,
  type TokenExchanger,
  type TokenExchangerOptions,
} from './token-exchange.ts';
import { ACCESS_TOKEN_TYPE } from './token-response.ts';

/**
 * The exchanger against a token endpoint on loopback whose answers each test chooses. The real
 * provider (oidc-provider with a token exchange grant) is exercised by the integration test; here the
 * point is what the sidecar sends, what it caches, and that every failure is a refusal.
 */
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly form: URLSearchParams;
}
type Answer = { status: number; body: unknown } | 'hang' | 'destroy' | { raw: string };

let server: Server;
let endpoint: string;
let received: Received[] = [];
let answer: (form: URLSearchParams) => Answer = (form) => issued(form);
let serial = 0;

const INBOUND = `${b64url({ alg: 'ES256' })}.${b64url({ sub: 'alice', jti: 'inbound-canary' })}.c2lnbmF0dXJl`;
let now = 1_800_000_000_000;
const clock = () => now;

function issued(form: URLSearchParams, lifetimeS = 120): Answer {
  serial += 1;
  const token = `${b64url({ alg: 'ES256' })}.${b64url({
    jti: `tx-${serial}`,
    scope: form.get('scope'),
    exp: Math.floor(now / 1000) + lifetimeS,
  })}.c2ln`;
  return {
    status: 200,
    body: {
      access_token: token,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: lifetimeS,
    },
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      received.push({ headers: req.headers, form });
      const reply = answer(form);
      if (reply === 'hang') return;
      if (reply === 'destroy') return void req.socket.destroy();
      if ('raw' in reply) return void res.writeHead(200, { 'content-type': 'text/html' }).end(reply.raw);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/realms/acme/token`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const exchangers: TokenExchanger[] = [];
afterEach(async () => {
  received = [];
  answer = (form) => issued(form);
  await Promise.all(exchangers.splice(0).map((e) => e.close()));
});

function exchanger(overrides: Partial<TokenExchangerOptions> = {}): TokenExchanger {
  const created = createTokenExchanger({
    settings: {
      tokenEndpoint: endpoint,
      clientId: 'portcullis-billing',
      audience: 'https://billing-api.internal',
      scopes: ['billing'],
    },
    clientSecret: () => 's3cret:with&odd=chars',
    clock,
    timeoutMs: 300,
    ...overrides,
  });
  exchangers.push(created);
  return created;
}

const subject = (expiresAt = now + 300_000) => SubjectToken.seal(`Bearer ${INBOUND}`, expiresAt)!;
const call = (tool: string, who = principal(), subjectToken = subject()) => ({
  subject: subjectToken,
  principal: who,
  scopes: [`tool:${tool}`],
});

describe('token exchange request', () => {
  it('is an RFC 8693 request: grant, subject token, audience/resource, the tool scope, client authentication', async () => {
    const result = await exchanger().exchange(call('read_invoice'));
    expect(result).toMatchObject({ ok: true, tokenId: 'tx-1' });
    expect(received).toHaveLength(1);
    const { headers, form } = received[0]!;
    expect(Object.fromEntries(form)).toEqual({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: INBOUND,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      audience: 'https://billing-api.internal',
      resource: 'https://billing-api.internal',
      scope: 'tool:read_invoice billing',
    });
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    // RFC 6749 section 2.3.1: both parts form-urlencoded before base64.
    expect(headers.authorization).toBe(
      `Basic ${Buffer.from('portcullis-billing:s3cret%3Awith%26odd%3Dchars').toString('base64')}`,
    );
    expect(headers.authorization).toBe(basicAuthorization('portcullis-billing', 's3cret:with&odd=chars'));
  });

  it('sends no resource for a logical audience name, and no scope when there is none', async () => {
    const tx = exchanger({
      settings: { tokenEndpoint: endpoint, clientId: 'c', audience: 'billing-api' },
    });
    await tx.exchange({ subject: subject(), principal: principal(), scopes: [] });
    const form = received[0]!.form;
    expect(form.get('audience')).toBe('billing-api');
    expect(form.has('resource')).toBe(false);
    expect(form.has('scope')).toBe(false);
  });
});

describe('token exchange cache', () => {
  it('reuses a token per (user, agent, tool, audience) and exchanges again for anything else', async () => {
    const tx = exchanger();
    const a = await tx.exchange(call('read_invoice'));
    const b = await tx.exchange(call('read_invoice', principal(), subject()));
    expect(b).toEqual(a);
    expect(received).toHaveLength(1);
    const others = [
      call('list_invoices'),
      call('read_invoice', principal({ user: 'bob' })),
      call('read_invoice', principal({ agent: 'other-agent' })),
      call('read_invoice', principal({ tenant: 'globex' })),
      call('read_invoice', principal({ scopes: ['billing'] })),
    ];
    const ids = new Set([a.ok && a.tokenId]);
    for (const other of others) {
      const result = await tx.exchange(other);
      expect(result.ok).toBe(true);
      ids.add(result.ok && result.tokenId);
    }
    expect(received).toHaveLength(1 + others.length);
    expect(ids.size).toBe(1 + others.length);
    // Same inputs again: all from the cache.
    for (const other of others) await tx.exchange(other);
    expect(received).toHaveLength(1 + others.length);
  });

  it('a different configured audience is a different exchanger, and so a different token', async () => {
    await exchanger().exchange(call('read_invoice'));
    await exchanger({
      settings: { tokenEndpoint: endpoint, clientId: 'c', audience: 'https://reports.internal' },
    }).exchange(call('read_invoice'));
    expect(received.map((r) => r.form.get('audience'))).toEqual([
      'https://billing-api.internal',
      'https://reports.internal',
    ]);
  });

  it('stops reusing a token shortly before it expires', async () => {
    const start = now;
    const tx = exchanger();
    await tx.exchange(call('read_invoice'));
    const until = reuseUntil(start, start + 120_000);
    expect(until).toBe(start + 96_000);
    now = until - 1;
    await tx.exchange(call('read_invoice'));
    expect(received).toHaveLength(1);
    now = until;
    await tx.exchange(call('read_invoice'));
    expect(received).toHaveLength(2);
    now = start;
  });

  it('never reuses a token past the expiry of the inbound token it was exchanged for', async () => {
    const start = now;
    const tx = exchanger();
    await tx.exchange(call('read_invoice', principal(), subject(start + 10_000)));
    now = start + 9_999;
    await tx.exchange(call('read_invoice', principal(), subject(start + 10_000)));
    expect(received).toHaveLength(1);
    now = start + 10_000;
    await tx.exchange(call('read_invoice', principal(), subject(start + 300_000)));
    expect(received).toHaveLength(2);
    now = start;
  });

  it('does not cache a token without a stated lifetime', async () => {
    answer = () => ({ status: 200, body: { access_token: 'opaque-1', token_type: 'Bearer' } });
    const tx = exchanger();
    await tx.exchange(call('read_invoice'));
    await tx.exchange(call('read_invoice'));
    expect(received).toHaveLength(2);
  });

  it('is bounded: the least recently used entry goes first', async () => {
    const tx = exchanger({ cacheSize: 2 });
    await tx.exchange(call('a'));
    await tx.exchange(call('b'));
    await tx.exchange(call('c'));
    expect(received).toHaveLength(3);
    await tx.exchange(call('c'));
    await tx.exchange(call('b'));
    expect(received).toHaveLength(3);
    await tx.exchange(call('a'));
    expect(received).toHaveLength(4);
  });

  it('shares one request among concurrent calls that need the same token', async () => {
    const tx = exchanger();
    const results = await Promise.all(Array.from({ length: 20 }, () => tx.exchange(call('read_invoice'))));
    expect(received).toHaveLength(1);
    expect(new Set(results.map((r) => r.ok && r.tokenId)).size).toBe(1);
  });
});

describe('token exchange failures (fail closed)', () => {
  it('refuses when the identity provider is unreachable, then fails fast for a moment', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const tx = exchanger({
      settings: { tokenEndpoint: `http://127.0.0.1:${port}/token`, clientId: 'c', audience: 'x' },
      downForMs: 1_000,
    });
    const first = await tx.exchange(call('read_invoice'));
    expect(first).toMatchObject({ ok: false, retryable: true, reason: expect.stringMatching(/unreachable/) });
    const started = performance.now();
    const second = await tx.exchange(call('list_invoices'));
    expect(second).toEqual(first);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('refuses when the identity provider does not answer in time', async () => {
    answer = () => 'hang';
    const started = performance.now();
    const result = await exchanger({ timeoutMs: 200 }).exchange(call('read_invoice'));
    expect(result).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/did not answer .* within 0.2 s/),
    });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses when the connection drops mid-request', async () => {
    answer = () => 'destroy';
    expect(await exchanger().exchange(call('read_invoice'))).toMatchObject({ ok: false, retryable: true });
  });

  it('refuses with the OAuth error when the identity provider refuses, and caches nothing', async () => {
    answer = () => ({ status: 400, body: { error: 'invalid_scope', error_description: 'no' } });
    const tx = exchanger();
    expect(await tx.exchange(call('issue_refund'))).toEqual({
      ok: false,
      reason: 'the identity provider refused the token exchange: invalid_scope',
      retryable: false,
    });
    answer = (form) => issued(form);
    expect((await tx.exchange(call('issue_refund'))).ok).toBe(true);
    expect(received).toHaveLength(2);
  });

  it.each<[string, Answer]>([
    ['HTML', { raw: '<html>login</html>' }],
    ['an empty object', { status: 200, body: {} }],
    ['a token with a line break', { status: 200, body: { access_token: 'a\nb', token_type: 'Bearer' } }],
    ['a 5xx', { status: 502, body: 'bad gateway' }],
    [
      '64 KiB of JSON',
      { status: 200, body: { access_token: 'x', token_type: 'Bearer', pad: 'y'.repeat(70_000) } },
    ],
  ])('refuses when the identity provider returns junk: %s', async (_name, reply) => {
    answer = () => reply;
    const result = await exchanger().exchange(call('read_invoice'));
    expect(result.ok).toBe(false);
  });

  it('refuses without a client secret, without calling the identity provider', async () => {
    const result = await exchanger({ clientSecret: () => undefined }).exchange(call('read_invoice'));
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/client secret/) });
    expect(received).toHaveLength(0);
  });

  it('never puts the inbound token in a reason', async () => {
    const reasons: string[] = [];
    for (const reply of [{ raw: INBOUND }, { status: 400, body: { error: INBOUND } }] as Answer[]) {
      answer = () => reply;
      const result = await exchanger().exchange(call('read_invoice'));
      if (!result.ok) reasons.push(result.reason);
    }
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) expect(reason).not.toContain(INBOUND.split('.')[1]);
  });
});

describe('SubjectToken', () => {
  it('holds nothing of the token that serialising or inspecting could reveal', () => {
    const handle = subject();
    const payload = INBOUND.split('.')[1]!;
    expect(JSON.stringify({ handle })).not.toContain(payload);
    expect(inspect(handle, { showHidden: true, depth: 5 })).not.toContain(payload);
    expect(Object.keys(handle)).toEqual(['expiresAt']);
    expect(Object.getOwnPropertyNames(handle)).toEqual(['expiresAt']);
  });

  it('is only made from a well-formed bearer header', () => {
    expect(SubjectToken.seal(undefined, 0)).toBeUndefined();
    expect(SubjectToken.seal(`Basic ${INBOUND}`, 0)).toBeUndefined();
  });
});
