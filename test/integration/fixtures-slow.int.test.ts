import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fixtureTransports,
  openFixture,
  type FixtureConnection,
} from '../fixtures/mcp/fixture-connections.ts';
import { connectHttpClient } from '../fixtures/mcp/fixture-clients.ts';
import { startHttpFixture } from '../fixtures/mcp/http-fixture.ts';
import type { SleepOutcome } from '../fixtures/mcp/sleep-record.ts';

let open: FixtureConnection | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function sleeps(client: Client): Promise<SleepOutcome[]> {
  const result = await client.callTool({ name: 'cancellations', arguments: {} });
  return (result.structuredContent as { sleeps: SleepOutcome[] }).sleeps;
}

/** Polls the fixture's record until it holds `count` sleeps; bounded so a lost cancel fails fast. */
async function waitForSleeps(client: Client, count: number, timeoutMs = 5_000): Promise<SleepOutcome[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const recorded = await sleeps(client);
    if (recorded.length >= count || Date.now() > deadline) return recorded;
    await delay(25);
  }
}

async function abortedSleep(client: Client): Promise<void> {
  const abort = new AbortController();
  const call = client.callTool({ name: 'sleep', arguments: { ms: 30_000 } }, undefined, {
    signal: abort.signal,
  });
  await delay(150);
  abort.abort('test gave up');
  await expect(call).rejects.toThrow('test gave up');
}

describe.each(fixtureTransports)('the slow fixture over %s', (transport) => {
  it('sleeps and reports that it was not cancelled', async () => {
    open = await openFixture('slow', transport);
    const result = await open.client.callTool({ name: 'sleep', arguments: { ms: 20 } });
    expect(result.structuredContent).toMatchObject({ tool: 'sleep', requested_ms: 20, cancelled: false });
    expect(await sleeps(open.client)).toMatchObject([{ requested_ms: 20, cancelled: false }]);
  });
});

describe.each(['http', 'stdio'] as const)('the slow fixture over %s', (transport) => {
  it('stops sleeping when the client aborts the call, and records the cancellation', async () => {
    open = await openFixture('slow', transport);
    await abortedSleep(open.client);
    const [sleep] = await waitForSleeps(open.client, 1);
    expect(sleep).toMatchObject({ requested_ms: 30_000, cancelled: true, reason: 'test gave up' });
    expect(sleep?.slept_ms).toBeLessThan(5_000);
  });
});

describe('the slow fixture over stateless HTTP', () => {
  // Without sessions, notifications/cancelled arrives in a POST of its own, at a fresh server that
  // never saw the request; the server that runs the sleep stops only when its POST's connection
  // goes, which is what closing the client does.
  it('cannot see a cancel, but stops when the client drops the connection', async () => {
    const fixture = await startHttpFixture('slow', { stateless: true });
    const observer = await connectHttpClient(fixture.url);
    try {
      const caller = await connectHttpClient(fixture.url);
      await abortedSleep(caller);
      await delay(100);
      expect(await sleeps(observer)).toEqual([]);

      await caller.close();
      const [sleep] = await waitForSleeps(observer, 1);
      expect(sleep).toMatchObject({ requested_ms: 30_000, cancelled: true });
      expect(sleep?.slept_ms).toBeLessThan(5_000);
    } finally {
      await observer.close();
      await fixture.close();
    }
  });
});
