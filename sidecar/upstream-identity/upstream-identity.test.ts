import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpServerSpec } from '../../api/v1alpha1/mcpserver.ts';
import { authorize } from '../../policy/authorize.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { principal } from '../../test/fixtures/principals.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import type { Rejection } from '../reject.ts';
import { requestScopes } from './scopes.ts';
import {
  createUpstreamIdentity,
  type UpstreamCredential,
  type UpstreamIdentity,
} from './upstream-identity.ts';
import { cel } from '../../policy/cel.ts';

const NOW = 1_800_000_000_000;
const MINTED: McpServerSpec['upstreamAuth'] = {
  mode: 'Minted',
  minted: {
    audience: 'https://billing-api.internal',
    signingKeySecretRef: { name: 'k', key: 'key.pem' },
    ttlSeconds: 30,
  },
};

/** The billing example, with the given upstreamAuth and downstream scopes on the read-invoices rule. */
function billingPolicy(upstreamAuth: McpServerSpec['upstreamAuth']): LoadedPolicy {
  const { servers, policies } = loadExample('billing.yaml');
  const server = structuredClone(servers[0]!);
  server.spec.upstreamAuth = upstreamAuth;
  delete server.spec.tools;
  const patched = policies.map((p) => structuredClone(p));
  const rule = patched.flatMap((p) => p.spec.rules).find((r) => r.name === 'read-invoices')!;
  rule.upstreamScopes = ['invoices:read'];
  const result = compile({ server, policies: patched, conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

function exchangeFor(policy: LoadedPolicy, tools: string[], who: Principal = principal()): Exchange {
  const calls: ToolCall[] = tools.map((tool, index) => {
    const args = { customer_id: 'acme', invoice_id: 'INV-1' };
    return { index, id: index, tool, args, verdict: authorize(policy, { principal: who, tool, args }) };
  });
  return { policy, principal: who, calls } as unknown as Exchange;
}

const pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

let dir: string;
const logs: string[] = [];
const log = pino(
  new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(chunk.toString());
      done();
    },
  }),
);
const opened: UpstreamIdentity[] = [];
async function identity(options: Partial<Parameters<typeof createUpstreamIdentity>[0]> = {}) {
  const created = await createUpstreamIdentity({
    carrier: 'http',
    log,
    clock: () => NOW,
    pollMs: 60_000,
    ...options,
  });
  opened.push(created);
  return created;
}
async function credential(id: UpstreamIdentity, exchange: Exchange, purpose?: 'request' | 'session') {
  return (await id.credentialFor(exchange, purpose)) as UpstreamCredential & Rejection;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-upstream-identity-'));
});
afterAll(async () => {
  await Promise.all(opened.map((o) => o.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('requestScopes', () => {
  const policy = billingPolicy(MINTED);
  it('is the tool scope plus the downstream scopes of the rule that allowed the call', () => {
    expect(requestScopes(policy, exchangeFor(policy, ['read_invoice']).calls)).toEqual([
      'tool:read_invoice',
      'invoices:read',
    ]);
  });
  it('covers exactly the tools of a batch, and nothing without a tool call', () => {
    const scopes = requestScopes(policy, exchangeFor(policy, ['read_invoice', 'list_invoices']).calls);
    expect(scopes).toEqual(['tool:read_invoice', 'invoices:read', 'tool:list_invoices']);
    expect(requestScopes(policy, [])).toEqual([]);
  });
  it('leaves out calls that were not allowed', () => {
    expect(requestScopes(policy, exchangeFor(policy, ['issue_refund']).calls)).toEqual([]);
  });
  it('refuses a tool name that is not a valid scope token (it would split into several scopes)', () => {
    const call = {
      index: 0,
      id: 0,
      tool: 'whoami tool:issue_refund',
      args: {},
      verdict: { decision: { allowed: true, policyHash: 'x', rule: { policy: 'p', rule: 'r' }, args: {} } },
    } as ToolCall;
    expect(requestScopes(policy, [call])).toEqual({
      refused: 'the tool name cannot be expressed as an OAuth scope',
    });
  });
});

describe('upstream identity: None', () => {
  it('adds no credential (identity headers are added by upstream-headers.ts)', async () => {
    const id = await identity();
    const policy = billingPolicy({ mode: 'None' });
    expect(await credential(id, exchangeFor(policy, ['read_invoice']))).toEqual({
      identity: { mode: 'None' },
    });
    expect(id.jwks()).toBeUndefined();
  });
});

describe('upstream identity: Minted', () => {
  const policy = billingPolicy(MINTED);

  it('refuses every call when no signing key is configured, or none could be loaded (fail closed)', async () => {
    const none = await credential(await identity(), exchangeFor(policy, ['read_invoice']));
    expect(none).toMatchObject({
      code: 'upstream_identity_unavailable',
      reason: expect.stringMatching(/--signing-key/),
    });
    const file = join(dir, 'broken.pem');
    await writeFile(file, 'not a key');
    const broken = await credential(
      await identity({ signingKeyFile: file }),
      exchangeFor(policy, ['read_invoice']),
    );
    expect(broken).toMatchObject({ code: 'upstream_identity_unavailable', retryAfter: 1 });
    expect(logs.join('')).toMatch(/signing key not loaded/);
  });

  it('mints a token scoped to the call, verifiable with the JWKS it serves', async () => {
    const file = join(dir, 'mint.pem');
    await writeFile(file, pem());
    const id = await identity({ signingKeyFile: file });
    const result = await credential(id, exchangeFor(policy, ['read_invoice']));
    expect(result.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = result.authorization!.slice('Bearer '.length);
    const { payload } = await jwtVerify(token, createLocalJWKSet(JSON.parse(id.jwks()!)), {
      issuer: 'https://billing.mcp.example.com/mcp',
      audience: 'https://billing-api.internal',
      currentDate: new Date(NOW),
    });
    expect(payload).toMatchObject({
      sub: 'alice',
      act: { sub: 'support-copilot' },
      scope: 'tool:read_invoice invoices:read',
      exp: NOW / 1000 + 30,
    });
    expect(result.identity).toEqual({ mode: 'Minted', tokenId: payload.jti });
  });

  it('gives requests without a tool call (and cancellations) a token that grants no tool', async () => {
    const file = join(dir, 'session.pem');
    await writeFile(file, pem());
    const id = await identity({ signingKeyFile: file });
    const list = await credential(id, exchangeFor(policy, []));
    expect(decodeJwt(list.authorization!.slice(7)).scope).toBe('mcp:session');
    const cancel = await credential(id, exchangeFor(policy, ['read_invoice']), 'session');
    expect(decodeJwt(cancel.authorization!.slice(7)).scope).toBe('mcp:session');
  });

  it('uses the configured issuer when there is one', async () => {
    const file = join(dir, 'issuer.pem');
    await writeFile(file, pem());
    const id = await identity({ signingKeyFile: file });
    const custom = billingPolicy({
      ...MINTED,
      minted: { ...MINTED.minted!, issuer: 'https://sidecar.billing' },
    });
    const result = await credential(id, exchangeFor(custom, ['read_invoice']));
    expect(decodeJwt(result.authorization!.slice(7)).iss).toBe('https://sidecar.billing');
  });

  it('picks up a rotated key file and keeps the old public key published; a bad file changes nothing', async () => {
    const file = join(dir, 'rotate.pem');
    await writeFile(file, pem());
    const id = await identity({ signingKeyFile: file });
    const kids = () => (JSON.parse(id.jwks()!) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const [first] = kids();
    await writeFile(file, pem());
    await id.reload();
    const [second, old] = kids();
    expect(old).toBe(first);
    expect(second).not.toBe(first);
    const token = (await credential(id, exchangeFor(policy, ['whoami']))).authorization!.slice(7);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid).toBe(second);
    await writeFile(file, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await id.reload();
    expect(kids()).toEqual([second, first]);
    expect((await credential(id, exchangeFor(policy, ['whoami']))).authorization).toBeDefined();
  });

  it('sends no token to a stdio server (there is no header to carry it) and says so once', async () => {
    const file = join(dir, 'stdio.pem');
    await writeFile(file, pem());
    const id = await identity({ signingKeyFile: file, carrier: 'stdio' });
    expect(await credential(id, exchangeFor(policy, ['read_invoice']))).toEqual({
      identity: { mode: 'Minted' },
    });
    expect(logs.join('')).toMatch(/stdio server gets no upstream token/);
  });
});

describe('upstream identity: TokenExchange', () => {
  const policy = billingPolicy({
    mode: 'TokenExchange',
    tokenExchange: {
      tokenEndpoint: 'https://id.example.com/realms/acme/token',
      clientId: 'portcullis-billing',
      clientSecretRef: { name: 's', key: 'secret' },
      audience: 'https://billing-api.internal',
    },
  });

  it('refuses a call whose inbound token was not kept (fail closed, no request to the IdP)', async () => {
    const result = await credential(await identity(), exchangeFor(policy, ['read_invoice']));
    expect(result).toMatchObject({
      code: 'upstream_identity_unavailable',
      reason: 'the inbound token was not kept for token exchange',
    });
  });
});
