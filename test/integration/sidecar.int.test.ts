import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { eventually } from '../harness/eventually.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const CANARY = 'canary-do-not-forward';

const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};
const outsider = {
  sub: 'mallory',
  azp: 'support-copilot',
  tenant_id: 'globex',
  groups: ['marketing'],
  scope: 'billing',
};

async function connect(
  url: string,
  token: string | undefined,
  extraHeaders: Record<string, string> = {},
): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extraHeaders };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

function structured(result: unknown): Record<string, unknown> {
  return (result as { structuredContent: Record<string, unknown> }).structuredContent;
}

describe('sidecar in front of a real MCP server (Streamable HTTP)', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;

  beforeAll(async () => {
    upstream = await startHttpFixture('billing');
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
    });
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  it('serves the policies of examples/billing.yaml unchanged', async () => {
    const kinds = (text: string) =>
      parseAllDocuments(text)
        .map((d) => d.toJS())
        .filter((o) => o?.kind === 'ToolPolicy');
    const example = kinds(await readFile(join(import.meta.dirname, '../../examples/billing.yaml'), 'utf8'));
    const fixture = kinds(
      await readFile(join(import.meta.dirname, '../fixtures/policies/billing/policies.yaml'), 'utf8'),
    );
    expect(fixture).toEqual(example);
  });

  it('lists only the tools the caller may call', async () => {
    const client = await connect(gate.url, await gate.token(support));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['list_invoices', 'read_invoice', 'whoami']);
    await client.close();
  });

  it("forces the tenant binding: a support agent cannot read another customer's invoices", async () => {
    const client = await connect(gate.url, await gate.token(support));
    const result = await client.callTool({
      name: 'read_invoice',
      arguments: { customer_id: 'globex', invoice_id: 'INV-7' },
    });
    expect(structured(result)['received']).toEqual({ customer_id: 'acme', invoice_id: 'INV-7' });
    await client.close();
    const event = gate.audit.events.findLast((e) => e.tool === 'read_invoice');
    expect(event).toMatchObject({
      decision: 'allowed',
      user: 'alice',
      agent: 'support-copilot',
      tenant: 'acme',
      server: { namespace: 'finance', name: 'billing' },
      outcome: 'ok',
    });
    expect(event?.policyHash).toMatch(/^sha256:/);
    expect(event?.argumentsDigest).toMatch(/^sha256:/);
  });

  it('refuses a tool the caller may not call, with a typed error and the deciding policy hash', async () => {
    const client = await connect(gate.url, await gate.token(support));
    const refused = await client
      .callTool({ name: 'issue_refund', arguments: { customer_id: 'acme', amount_cents: 5 } })
      .catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error & { code?: number }).code).toBe(403);
    expect(String(refused)).toContain('no_matching_rule');
    expect(String(refused)).toMatch(/sha256:[a-f0-9]{64}/);
    await client.close();
    expect(gate.audit.events.findLast((e) => e.tool === 'issue_refund')).toMatchObject({
      decision: 'denied',
      code: 'no_matching_rule',
      outcome: 'refused',
    });
  });

  it('answers a missing token with 401 and the protected resource metadata location', async () => {
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain(
      'resource_metadata="https://billing.mcp.example.com/.well-known/oauth-protected-resource/mcp"',
    );
    const body = await response.json();
    expect(body).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -31001, data: { portcullis: { code: 'missing_token' } } },
    });
    const metadata = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', gate.url)).then((r) =>
      r.json(),
    );
    expect(metadata).toMatchObject({
      resource: AUDIENCE,
      authorization_servers: ['https://id.example.com/realms/acme'],
    });
  });

  it('never passes the client token, cookies or forwarding headers upstream, nor logs or audits them', async () => {
    const token = await gate.token({ ...support, jti: CANARY });
    const client = await connect(gate.url, token, {
      cookie: `session=${CANARY}`,
      'x-forwarded-for': CANARY,
      'x-portcullis-user': 'root',
    });
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    const received = structured(result)['headers'] as Record<string, string>;
    expect(received['x-portcullis-user']).toBe('alice');
    expect(received['x-portcullis-tenant']).toBe('acme');
    expect(received['authorization']).toBeUndefined();
    expect(received['cookie']).toBeUndefined();
    expect(received['x-forwarded-for']).toBeUndefined();
    // Host is the upstream's own, not the public name the client used.
    expect(received['host']).toBe(new URL(upstream.url).host);
    expect(JSON.stringify(received)).not.toContain(CANARY);
    await client.close();
    const everything = gate.logs.join('\n') + JSON.stringify(gate.audit.events);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split('.')[2]!);
    expect(everything).not.toContain(`session=${CANARY}`);
  });

  it('bites on the next request when a kill switch is set in the policy files, and releases', async () => {
    const client = await connect(gate.url, await gate.token(support));
    const call = () =>
      client
        .callTool({ name: 'list_invoices', arguments: { customer_id: 'acme' } })
        .then(() => 'allowed')
        .catch((e: Error) => (String(e).includes('killed') ? 'killed' : String(e)));
    expect(await call()).toBe('allowed');
    const serverFile = join(gate.policyDir, 'server.yaml');
    const original = await readFile(serverFile, 'utf8');
    await writeFile(
      serverFile,
      original.replace(
        '  namespace: finance\n',
        '  namespace: finance\n  annotations:\n    portcullis.dev/killed-tools: list_invoices\n    portcullis.dev/kill-reason: "SEC-42 test"\n',
      ),
    );
    expect(await eventually(call, (v) => v === 'killed')).toBe('killed');
    expect(gate.audit.events.findLast((e) => e.tool === 'list_invoices')).toMatchObject({
      decision: 'killed',
      code: 'killed',
    });
    await writeFile(serverFile, original);
    expect(await eventually(call, (v) => v === 'allowed')).toBe('allowed');
    await client.close();
  });

  it('keeps the last good policy when an edit is invalid', async () => {
    const hash = gate.sidecar.context.policy.current?.hash;
    const policyFile = join(gate.policyDir, 'policies.yaml');
    const original = await readFile(policyFile, 'utf8');
    await writeFile(policyFile, original.replace('tools: [read_invoice, list_invoices]', 'tools: []'));
    await gate.sidecar.source.reload();
    expect(gate.sidecar.context.policy.current?.hash).toBe(hash);
    expect(gate.sidecar.context.policy.status().lastError).toContain('invalid policy objects');
    const client = await connect(gate.url, await gate.token(support));
    expect((await client.listTools()).tools.length).toBe(3);
    await client.close();
    await writeFile(policyFile, original);
    await gate.sidecar.source.reload();
  });

  it("does not let another principal use someone else's session", async () => {
    const owner = await connect(gate.url, await gate.token(support));
    const sessionId = (owner.transport as StreamableHTTPClientTransport).sessionId!;
    const response = await fetch(gate.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await gate.token(outsider)}`,
        'mcp-session-id': sessionId,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
    expect(
      ((await response.json()) as { error: { data: { portcullis: { code: string } } } }).error.data.portcullis
        .code,
    ).toBe('session_not_found');
    await owner.close();
  });
});
