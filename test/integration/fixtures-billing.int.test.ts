import { afterEach, describe, expect, it } from 'vitest';
import {
  fixtureTransports,
  openFixture,
  type FixtureConnection,
} from '../fixtures/mcp/fixture-connections.ts';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { startHttpFixture } from '../fixtures/mcp/http-fixture.ts';

let open: FixtureConnection | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe.each(fixtureTransports)('the billing fixture over %s', (transport) => {
  it('lists the billing tools', async () => {
    open = await openFixture('billing', transport);
    const { tools } = await open.client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual([
      'read_invoice',
      'list_invoices',
      'issue_refund',
      'whoami',
    ]);
    expect(tools[0]?.inputSchema).toMatchObject({ required: ['customer_id', 'invoice_id'] });
  });

  it('echoes exactly the arguments it received, unknown ones included, as structure and as text', async () => {
    open = await openFixture('billing', transport);
    const args = { customer_id: 'acme', amount_cents: 500, note: 'not in the schema' };
    const result = await open.client.callTool({ name: 'issue_refund', arguments: args });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ tool: 'issue_refund', received: args });
    const [text] = result.content as { type: string; text: string }[];
    expect(JSON.parse(text?.text ?? '')).toEqual(result.structuredContent);
  });

  it('refuses invalid arguments as a tool error that says why', async () => {
    open = await openFixture('billing', transport);
    const result = await open.client.callTool({ name: 'read_invoice', arguments: { customer_id: 'acme' } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('invoice_id');
  });
});

describe('the billing fixture whoami', () => {
  it('shows every HTTP header that reached the server, credentials included', async () => {
    const fixture = await startHttpFixture('billing');
    const client = await connectHttpClient(fixture.url, {
      headers: { authorization: 'Bearer secret-token', cookie: 'session=abc', 'x-portcullis-test': 'yes' },
    });
    try {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toMatchObject({
        transport: 'http',
        session_id: expect.any(String),
        headers: { authorization: 'Bearer secret-token', cookie: 'session=abc', 'x-portcullis-test': 'yes' },
      });
    } finally {
      await client.close();
      await fixture.close();
    }
  });

  it('says stdio and shows no headers over stdio', async () => {
    open = await openFixture('billing', 'stdio');
    const result = await open.client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toMatchObject({ transport: 'stdio', session_id: null, headers: {} });
  });
});
