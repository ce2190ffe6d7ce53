import { generateKeyPairSync } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../sidecar/audit/event.ts';
import { startTokenExchangeIdp, type TokenExchangeIdp } from '../fixtures/auth/token-exchange-idp.ts';
import {
  startVerifyingUpstream,
  type SeenRequest,
  type VerifyingUpstream,
} from '../fixtures/auth/verifying-upstream.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { ISSUER, startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * Upstream identity end to end: a real sidecar in front of the billing fixture, behind a resource
 * server that refuses every request whose bearer token does not verify (against the sidecar's JWKS on
 * the admin port for Minted, against the identity provider's JWKS for TokenExchange). The canary: the
 * client's token never reaches the server, the logs or the audit events, and neither does the token the
 * server got.
 */
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const UPSTREAM_AUDIENCE = 'https://billing-api.internal.example.com';
const CANARY = 'canary-inbound-token-jti';

const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'upstream-identity-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

const headersOf = (result: unknown) =>
  (result as { structuredContent: { headers: Record<string, string> } }).structuredContent.headers;

const toolCalls = (seen: readonly SeenRequest[], tool: string) =>
  seen.filter((s) => s.method === 'tools/call' && s.tool === tool);

/** Declares downstream scopes on the read-invoices rule and switches the server to the given mode. */
async function useUpstreamAuth(gate: SidecarUnderTest, upstreamAuth: string): Promise<void> {
  const policies = join(gate.policyDir, 'policies.yaml');
  const text = await readFile(policies, 'utf8');
  await writeFile(
    policies,
    text.replace(
      '      scopes: [billing:invoices:read]\n',
      '      scopes: [billing:invoices:read]\n      upstreamScopes: [invoices:read]\n',
    ),
  );
  await appendFile(join(gate.policyDir, 'server.yaml'), upstreamAuth);
  await gate.sidecar.source.reload();
  expect(gate.sidecar.context.policy.status().lastError).toBeUndefined();
}

/** Engages (or, with undefined, releases) the kill switch for the named tools, as the annotation does. */
async function setKilledTools(gate: SidecarUnderTest, tools: string | undefined): Promise<void> {
  const file = join(gate.policyDir, 'server.yaml');
  const text = (await readFile(file, 'utf8')).replace(
    / {2}annotations:\n {4}portcullis\.dev\/killed-tools: .*\n/,
    '',
  );
  const annotated =
    tools === undefined
      ? text
      : text.replace(
          '  namespace: finance\n',
          `  namespace: finance\n  annotations:\n    portcullis.dev/killed-tools: ${tools}\n`,
        );
  await writeFile(file, annotated);
  await gate.sidecar.source.reload();
  expect(gate.sidecar.context.policy.status().lastError).toBeUndefined();
}

/** Nothing that could authenticate as the caller or as the sidecar appears in logs or audit events. */
function expectNoTokens(gate: SidecarUnderTest, tokens: readonly string[]): void {
  const everything = gate.logs.join('\n') + JSON.stringify(gate.audit.events);
  for (const token of tokens) {
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split('.')[2]!);
  }
}

const pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

let fixture: HttpFixture;
let dir: string;
beforeAll(async () => {
  fixture = await startHttpFixture('billing');
  dir = await mkdtemp(join(tmpdir(), 'portcullis-upstream-identity-'));
});
afterAll(async () => {
  await fixture?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('upstreamAuth Minted', () => {
  let upstream: VerifyingUpstream;
  let gate: SidecarUnderTest;
  const keyFile = () => join(dir, 'signing-key.pem');
  const verifier = {
    target: '',
    verify: (_token: string): Promise<JWTPayload> => Promise.reject(new Error('no verifier yet')),
  };

  beforeAll(async () => {
    await writeFile(keyFile(), pem());
    upstream = await startVerifyingUpstream({
      ...verifier,
      target: fixture.url,
      verify: (t) => verifier.verify(t),
    });
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
      config: { signingKeyFile: keyFile() },
    });
    // The server container's verifier: the sidecar's JWKS, fetched from its admin port.
    const jwks = createRemoteJWKSet(new URL(`${gate.sidecar.adminUrl}/.well-known/jwks.json`), {
      cooldownDuration: 0,
    });
    verifier.verify = async (token) =>
      (
        await jwtVerify(token, jwks, {
          issuer: AUDIENCE,
          audience: UPSTREAM_AUDIENCE,
          algorithms: ['ES256', 'RS256'],
          typ: 'at+jwt',
          requiredClaims: ['exp', 'iat', 'jti', 'sub', 'act', 'scope'],
        })
      ).payload;
    await useUpstreamAuth(
      gate,
      [
        '  upstreamAuth:',
        '    mode: Minted',
        '    minted:',
        `      audience: ${UPSTREAM_AUDIENCE}`,
        '      signingKeySecretRef: { name: billing-mint-key, key: key.pem }',
        '      ttlSeconds: 30',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('serves the public signing keys on the admin port, and nothing private', async () => {
    const response = await fetch(`${gate.sidecar.adminUrl}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('gives the server a verifiable token per call, scoped to the tool, never the client token', async () => {
    const inbound = await gate.token({ ...support, jti: CANARY });
    const client = await connect(gate.url, inbound);
    await client.listTools();
    const whoami = headersOf(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'INV-1' } });
    const again = headersOf(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();

    // Every request reached the server with a token that verified; none was refused.
    expect(upstream.seen.filter((s) => s.refused)).toEqual([]);
    expect(upstream.seen.length).toBeGreaterThanOrEqual(5);
    for (const { claims } of upstream.seen) {
      expect(claims).toMatchObject({ sub: 'alice', act: { sub: 'support-copilot' }, tenant: 'acme' });
      expect(claims!.exp! - claims!.iat!).toBe(30);
    }
    // Tool calls carry their tool (and the rule's downstream scopes); everything else no tool at all.
    const [firstWhoami, secondWhoami] = toolCalls(upstream.seen, 'whoami');
    expect(firstWhoami!.claims!.scope).toBe('tool:whoami');
    expect(toolCalls(upstream.seen, 'read_invoice')[0]!.claims!.scope).toBe(
      'tool:read_invoice invoices:read',
    );
    for (const other of upstream.seen.filter((s) => s.method !== 'tools/call'))
      expect(other.claims!.scope).toBe('mcp:session');
    // A fresh token for every request: same tool twice, two tokens.
    const tokens = upstream.seen.map((s) => s.token!);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(upstream.seen.map((s) => s.claims!.jti)).size).toBe(tokens.length);
    // What whoami saw is the minted token, not the client's.
    expect(whoami['authorization']).toBe(`Bearer ${firstWhoami!.token}`);
    expect(again['authorization']).toBe(`Bearer ${secondWhoami!.token}`);
    expect(tokens).not.toContain(inbound);
    expect(JSON.stringify(upstream.seen)).not.toContain(CANARY);
    expect(whoami['x-portcullis-user']).toBeUndefined();

    // The canary: neither token in logs or audit; audit names the minted token by its jti.
    expectNoTokens(gate, [inbound, ...tokens]);
    const events = gate.audit.events.filter((e: AuditEvent) => e.tool === 'whoami');
    expect(events.map((e) => e.upstreamIdentity)).toEqual([
      { mode: 'Minted', tokenId: firstWhoami!.claims!.jti },
      { mode: 'Minted', tokenId: secondWhoami!.claims!.jti },
    ]);
  });

  it('rotates to a new key file; tokens signed with the old key keep verifying for their lifetime', async () => {
    const client = await connect(gate.url, await gate.token(support));
    await client.callTool({ name: 'whoami', arguments: {} });
    const before = toolCalls(upstream.seen, 'whoami').at(-1)!.token!;
    const oldKid = decodeProtectedHeader(before).kid;

    await writeFile(keyFile(), pem());
    await gate.sidecar.context.upstreamIdentity.reload();
    await client.callTool({ name: 'whoami', arguments: {} });
    await client.close();
    const after = toolCalls(upstream.seen, 'whoami').at(-1)!;
    expect(after.refused).toBeUndefined();
    expect(decodeProtectedHeader(after.token!).kid).not.toBe(oldKid);

    const published = (await fetch(`${gate.sidecar.adminUrl}/.well-known/jwks.json`).then((r) =>
      r.json(),
    )) as { keys: { kid: string }[] };
    expect(published.keys.map((k) => k.kid)).toEqual([decodeProtectedHeader(after.token!).kid, oldKid]);
    await expect(
      jwtVerify(before, createLocalJWKSet(published as never), { audience: UPSTREAM_AUDIENCE }),
    ).resolves.toBeDefined();
  });

  it('signs with an RSA key off the event loop: the server verifies each RS256 token', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(keyFile(), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await gate.sidecar.context.upstreamIdentity.reload();
    const client = await connect(gate.url, await gate.token(support));
    const calls = await Promise.all(
      Array.from({ length: 8 }, () => client.callTool({ name: 'whoami', arguments: {} })),
    );
    await client.close();
    const seen = toolCalls(upstream.seen, 'whoami').slice(-8);
    expect(seen.filter((s) => s.refused)).toEqual([]);
    expect(seen.map((s) => decodeProtectedHeader(s.token!).alg)).toEqual(Array(8).fill('RS256'));
    expect(new Set(seen.map((s) => s.claims!.jti)).size).toBe(8);
    // Each answer carries the token its own request was given.
    expect(new Set(calls.map((c) => headersOf(c)['authorization'])).size).toBe(8);
    for (const s of seen) expect(s.claims).toMatchObject({ sub: 'alice', scope: 'tool:whoami' });
  });
});

describe('upstreamAuth TokenExchange', () => {
  let idp: TokenExchangeIdp;
  let upstream: VerifyingUpstream;
  let gate: SidecarUnderTest;

  beforeAll(async () => {
    idp = await startTokenExchangeIdp({
      // list_invoices is allowed by policy but not by the identity provider.
      audiences: {
        [UPSTREAM_AUDIENCE]: ['billing-api', 'tool:whoami', 'tool:read_invoice', 'invoices:read'],
      },
      ttlSeconds: 120,
      copyClaims: ['tenant_id'],
    });
    const idpKeys = createRemoteJWKSet(new URL(idp.jwksUri));
    upstream = await startVerifyingUpstream({
      target: fixture.url,
      verify: async (token) =>
        (
          await jwtVerify(token, idpKeys, {
            issuer: idp.issuer,
            audience: UPSTREAM_AUDIENCE,
            typ: 'at+jwt',
            requiredClaims: ['exp', 'jti', 'sub'],
          })
        ).payload,
    });
    const secretFile = join(dir, 'client-secret');
    await writeFile(secretFile, `${idp.clientSecret}\n`);
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
      config: { tokenExchangeSecretFile: secretFile, tokenEndpoint: idp.tokenEndpoint },
    });
    // The identity provider accepts, as subject tokens, tokens of the client's issuer for this server.
    idp.trustSubjects({ issuer: ISSUER, jwksUri: gate.jwksUri, audience: AUDIENCE });
    await useUpstreamAuth(
      gate,
      [
        '  upstreamAuth:',
        '    mode: TokenExchange',
        '    tokenExchange:',
        `      tokenEndpoint: https://id.example.com/realms/acme/protocol/openid-connect/token`,
        `      clientId: ${idp.clientId}`,
        '      clientSecretRef: { name: billing-token-exchange, key: secret }',
        `      audience: ${UPSTREAM_AUDIENCE}`,
        '      scopes: [billing-api]',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
    await idp?.close();
  });

  it('gives the server a token exchanged at the identity provider per tool, cached, never the client token', async () => {
    const inbound = await gate.token({ ...support, jti: CANARY });
    const client = await connect(gate.url, inbound);
    const whoami = headersOf(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'INV-1' } });
    const again = headersOf(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();

    expect(upstream.seen.filter((s) => s.refused)).toEqual([]);
    const [first, second] = toolCalls(upstream.seen, 'whoami');
    const read = toolCalls(upstream.seen, 'read_invoice')[0]!;
    expect(first!.claims).toMatchObject({
      iss: idp.issuer,
      sub: 'alice',
      act: { sub: 'support-copilot' },
      client_id: idp.clientId,
      tenant_id: 'acme',
      scope: 'tool:whoami billing-api',
    });
    expect(read.claims!.scope).toBe('tool:read_invoice invoices:read billing-api');
    // One token per tool: the second whoami reused the first's; read_invoice got its own.
    expect(second!.token).toBe(first!.token);
    expect(read.token).not.toBe(first!.token);
    expect(whoami['authorization']).toBe(`Bearer ${first!.token}`);
    expect(again['authorization']).toBe(`Bearer ${first!.token}`);
    // Session traffic (initialize, notifications) got a token without tool scopes.
    for (const other of upstream.seen.filter((s) => s.method !== 'tools/call'))
      expect(other.claims!.scope).toBe('billing-api');
    expect(idp.exchanges.filter((e) => e.error === undefined).map((e) => e.scope)).toEqual([
      'billing-api',
      'tool:whoami billing-api',
      'tool:read_invoice invoices:read billing-api',
    ]);

    // The canary: the client's token went to the identity provider only.
    const tokens = upstream.seen.map((s) => s.token!);
    expect(tokens).not.toContain(inbound);
    expect(JSON.stringify(upstream.seen)).not.toContain(CANARY);
    expectNoTokens(gate, [inbound, ...new Set(tokens)]);
    expect(gate.audit.events.filter((e) => e.tool === 'whoami').map((e) => e.upstreamIdentity)).toEqual([
      { mode: 'TokenExchange', tokenId: first!.claims!.jti },
      { mode: 'TokenExchange', tokenId: first!.claims!.jti },
    ]);
  });

  it('refuses the call when the identity provider refuses the exchange (fail closed)', async () => {
    const client = await connect(gate.url, await gate.token(support));
    const refused = await client
      .callTool({ name: 'list_invoices', arguments: { customer_id: 'acme' } })
      .catch((e: Error & { code?: number }) => e);
    await client.close();
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error & { code?: number }).code).toBe(503);
    expect(String(refused)).toContain('upstream_identity_unavailable');
    expect(String(refused)).toContain('invalid_scope');
    expect(toolCalls(upstream.seen, 'list_invoices')).toEqual([]);
    expect(idp.exchanges.at(-1)).toMatchObject({
      error: 'invalid_scope',
      scope: 'tool:list_invoices invoices:read billing-api',
    });
    expect(gate.audit.events.findLast((e) => e.tool === 'list_invoices')).toMatchObject({
      decision: 'errored',
      code: 'upstream_identity_unavailable',
      outcome: 'refused',
      upstreamIdentity: { mode: 'TokenExchange' },
    });
  });

  it('refuses a call killed while it waited for its token exchange: the server never sees it', async () => {
    const client = await connect(gate.url, await gate.token({ ...support, sub: 'dave' }));
    const held = idp.holdNextExchange();
    const call = client
      .callTool({ name: 'read_invoice', arguments: { customer_id: 'acme', invoice_id: 'INV-7' } })
      .catch((e: Error & { code?: number }) => e);
    await held.arrived; // allowed, its decision made; waiting for the identity provider
    await setKilledTools(gate, 'read_invoice');
    held.release();
    const refused = await call;
    await client.close();
    await setKilledTools(gate, undefined);

    expect(refused).toBeInstanceOf(Error);
    expect(String(refused)).toContain(
      'a kill switch covering read_invoice was engaged while the call waited',
    );
    expect(toolCalls(upstream.seen, 'read_invoice').some((s) => s.claims?.sub === 'dave')).toBe(false);
    expect(idp.exchanges.at(-1)).toMatchObject({
      user: 'dave',
      scope: expect.stringContaining('tool:read_invoice'),
    });
    expect(gate.audit.events.findLast((e) => e.user === 'dave' && e.tool === 'read_invoice')).toMatchObject({
      tool: 'read_invoice',
      decision: 'killed',
      code: 'killed',
      outcome: 'refused',
    });
  });

  it('refuses calls when the identity provider is down, while tokens already exchanged keep working', async () => {
    const client = await connect(gate.url, await gate.token(support));
    await idp.close();
    // Cached for alice: still served.
    const cached = headersOf(await client.callTool({ name: 'whoami', arguments: {} }));
    expect(cached['authorization']).toBe(`Bearer ${toolCalls(upstream.seen, 'whoami')[0]!.token}`);
    await client.close();
    // Someone else needs a fresh exchange: refused, retryable, and nothing reached the server.
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await gate.token({ ...support, sub: 'carol' })}`,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'whoami', arguments: {} },
      }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    const body = (await response.json()) as {
      error: { code: number; data: { portcullis: { code: string } } };
    };
    expect(body.error.code).toBe(-31042);
    expect(body.error.data.portcullis.code).toBe('upstream_identity_unavailable');
    expect(upstream.seen.some((s) => s.claims?.sub === 'carol')).toBe(false);
  });
});
