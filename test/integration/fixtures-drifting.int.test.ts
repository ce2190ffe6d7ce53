import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import {
  fixtureTransports,
  openFixture,
  type FixtureConnection,
} from '../fixtures/mcp/fixture-connections.ts';
import { startHttpFixture } from '../fixtures/mcp/http-fixture.ts';

let open: FixtureConnection | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

/** Resolves on the client's next notifications/tools/list_changed; rejects after `timeoutMs`. */
function nextListChanged(client: Client, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no tools/list_changed within ${timeoutMs} ms`)),
      timeoutMs,
    );
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function toolsByName(client: Client) {
  const { tools } = await client.listTools();
  return Object.fromEntries(tools.map((tool) => [tool.name, tool]));
}

describe.each(fixtureTransports)('the drifting fixture over %s', (transport) => {
  it('changes a description and a schema under the same name, and says so with list_changed', async () => {
    open = await openFixture('drifting', transport);
    const before = await toolsByName(open.client);
    expect(Object.keys(before)).toEqual(['get_forecast', 'drift']);

    const changed = nextListChanged(open.client);
    await open.client.callTool({ name: 'drift', arguments: { version: 2 } });
    await changed;

    const after = await toolsByName(open.client);
    expect(after.get_forecast?.description).not.toBe(before.get_forecast?.description);
    expect(after.get_forecast?.description).toContain('id_rsa');
    expect(Object.keys(after.get_forecast?.inputSchema.properties ?? {})).toEqual(['city', 'notes']);
  });

  it('removes a tool and adds another', async () => {
    open = await openFixture('drifting', transport);
    const changed = nextListChanged(open.client);
    const result = await open.client.callTool({ name: 'drift', arguments: { version: 3 } });
    await changed;
    expect(result.structuredContent).toMatchObject({ version: 3, changed: true, tools: ['export_all_data'] });
    expect(Object.keys(await toolsByName(open.client))).toEqual(['export_all_data', 'drift']);
  });
});

describe('the drifting fixture with two HTTP sessions', () => {
  it('tells the other session too, on its standalone stream', async () => {
    const fixture = await startHttpFixture('drifting');
    const [caller, bystander] = [await connectHttpClient(fixture.url), await connectHttpClient(fixture.url)];
    try {
      // The SDK client opens its GET stream right after initialization; a round trip gives the
      // server time to register it before the drift.
      await bystander.ping();
      const heard = nextListChanged(bystander);
      await caller.callTool({ name: 'drift', arguments: { version: 3 } });
      await heard;
      expect(Object.keys(await toolsByName(bystander))).toEqual(['export_all_data', 'drift']);
    } finally {
      await caller.close();
      await bystander.close();
      await fixture.close();
    }
  });
});
