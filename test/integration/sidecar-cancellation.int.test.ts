import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/** Timeouts and kill switches stop work on the server, not just the answer to the client. */
const AUDIENCE = 'https://slow.mcp.example.com/mcp';

interface SleepRecord {
  requested_ms: number;
  cancelled: boolean;
  reason: string | null;
}

describe('sidecar cancels upstream work', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  let client: Client;

  const sleeps = async (): Promise<SleepRecord[]> => {
    const result = await client.callTool({ name: 'cancellations', arguments: {} });
    const content = (result as { structuredContent?: { sleeps?: SleepRecord[] } }).structuredContent;
    return content?.sleeps ?? [];
  };
  const cancelledSleep = async (ms: number) => {
    const deadline = Date.now() + 3000;
    for (;;) {
      const record = (await sleeps()).find((s) => s.requested_ms === ms);
      if (record || Date.now() > deadline) return record;
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  beforeAll(async () => {
    upstream = await startHttpFixture('slow');
    gate = await startSidecarUnderTest({
      policyFixture: 'slow-http',
      upstream: { upstreamUrl: upstream.url },
      audience: AUDIENCE,
    });
    client = new Client({ name: 'test', version: '1' });
    const token = await gate.token({ sub: 'alice', azp: 'agent', groups: [] });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(gate.url), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await gate?.stop();
    await upstream?.close();
  });

  it('cancels a call that outlives its rule timeout, on the server too', async () => {
    const started = Date.now();
    const error = await client.callTool({ name: 'sleep', arguments: { ms: 20_000 } }).catch((e: Error) => e);
    expect(String(error)).toContain('-31041'); // upstream_timeout
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await cancelledSleep(20_000)).toMatchObject({ cancelled: true });
    expect(
      gate.audit.events.findLast((e) => e.tool === 'sleep' && e.decision !== 'allowed') ?? gate.audit.events,
    ).toMatchObject({
      decision: 'errored',
      outcome: 'timeout',
    });
  });

  it('cancels a running call when a kill switch covering it is engaged', async () => {
    const running = client.callTool({ name: 'sleep', arguments: { ms: 15_000 } }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 200));
    const file = join(gate.policyDir, 'server.yaml');
    const original = await readFile(file, 'utf8');
    await writeFile(
      file,
      original.replace(
        '  namespace: default\nspec:',
        '  namespace: default\n  annotations:\n    portcullis.dev/killed-tools: sleep\nspec:',
      ),
    );
    const error = await running;
    expect(String(error), gate.logs.filter((l) => !l.includes('"audit"')).join('')).toContain('-31020'); // killed
    expect(await cancelledSleep(15_000)).toMatchObject({ cancelled: true });
    await writeFile(file, original);
  });
});
