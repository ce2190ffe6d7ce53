import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SleepOutcome } from '../fixtures/mcp/sleep-record.ts';
import { childrenOf } from '../harness/child-processes.ts';
import { signalProcess, waitUntilGone } from '../harness/processes.ts';
import {
  BILLING_AUDIENCE,
  connectAs,
  eventually,
  outsider,
  structured,
  supportAgent,
} from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The sidecar in front of ONE shared stdio server process: every client's session is bridged onto the
 * same stdin/stdout, with request ids rewritten so that clients using the same ids never get each
 * other's answers. Real SDK clients, real tokens, a real child process.
 */
const STDIO_SERVER = join(import.meta.dirname, '../fixtures/mcp/stdio-server.ts');
const stdioServer = (kind: string) => [process.execPath, STDIO_SERVER, kind];
const anyone = { sub: 'bob', azp: 'ops-console', groups: [] };

/** The JSON-RPC ids of the tools/call requests a client sent, seen through its fetch. */
function recordingFetch(ids: (string | number)[]): FetchLike {
  return (url, init) => {
    if (typeof init?.body === 'string') {
      const body = JSON.parse(init.body) as { id?: string | number; method?: string };
      if (body.method === 'tools/call' && body.id !== undefined) ids.push(body.id);
    }
    return fetch(url, init);
  };
}

describe('sidecar in front of a shared stdio server (billing)', () => {
  let gate: SidecarUnderTest;

  beforeAll(async () => {
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamCommand: stdioServer('billing') },
      audience: BILLING_AUDIENCE,
    });
  });
  afterAll(async () => {
    await gate?.stop();
  });

  it('initializes every client from the one process and filters tools/list per caller', async () => {
    const support = await connectAs(gate, supportAgent);
    const other = await connectAs(gate, outsider);
    try {
      expect(support.getServerVersion()?.name).toBe(other.getServerVersion()?.name);
      const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
      expect(await names(support)).toEqual(['list_invoices', 'read_invoice', 'whoami']);
      expect(await names(other)).toEqual(['whoami']);
      expect(structured(await other.callTool({ name: 'whoami', arguments: {} }))['transport']).toBe('stdio');
    } finally {
      await support.close();
      await other.close();
    }
    expect(childrenOf(process.pid, [STDIO_SERVER, 'billing'])).toHaveLength(1);
  });

  it('forces the tenant binding on an allowed call', async () => {
    const client = await connectAs(gate, supportAgent);
    const result = await client.callTool({
      name: 'read_invoice',
      arguments: { customer_id: 'globex', invoice_id: 'INV-7' },
    });
    expect(structured(result)['received']).toEqual({ customer_id: 'acme', invoice_id: 'INV-7' });
    await client.close();
    expect(gate.audit.events.findLast((e) => e.tool === 'read_invoice')).toMatchObject({
      decision: 'allowed',
      tenant: 'acme',
      outcome: 'ok',
    });
  });

  it('refuses a call the policy does not allow, before it reaches the process', async () => {
    const client = await connectAs(gate, supportAgent);
    const refused = await client
      .callTool({ name: 'issue_refund', arguments: { customer_id: 'acme', amount_cents: 5 } })
      .catch((e: Error) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error & { code?: number }).code).toBe(403);
    expect(String(refused)).toContain('no_matching_rule');
    await client.close();
  });

  it('keeps concurrent clients apart when they use the same JSON-RPC ids', async () => {
    const callers = 4;
    const callsEach = 6;
    const ids: (string | number)[][] = Array.from({ length: callers }, () => []);
    // One user each: the billing policy allows each user 5 calls/s (burst 10), and 24 calls at once
    // from one user would be rate limited.
    const clients = await Promise.all(
      ids.map((sent, c) =>
        connectAs(gate, { ...supportAgent, sub: `alice-${c}` }, { fetch: recordingFetch(sent) }),
      ),
    );
    try {
      const answers = await Promise.all(
        clients.flatMap((client, c) =>
          Array.from({ length: callsEach }, async (_, n) => {
            const invoice = `INV-${c}-${n}`;
            const result = await client.callTool({
              name: 'read_invoice',
              arguments: { customer_id: 'acme', invoice_id: invoice },
            });
            return { invoice, received: structured(result)['received'] };
          }),
        ),
      );
      for (const { invoice, received } of answers)
        expect(received).toEqual({ customer_id: 'acme', invoice_id: invoice });
      // The point of the test: every client used the same ids, at the same time.
      for (const sent of ids.slice(1)) expect(sent.sort()).toEqual(ids[0]!.sort());
      expect(ids[0]).toHaveLength(callsEach);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

describe('sidecar in front of a shared stdio server (slow)', () => {
  let gate: SidecarUnderTest;
  let observer: Client;

  const sleeps = async (): Promise<SleepOutcome[]> =>
    (
      structured(await observer.callTool({ name: 'cancellations', arguments: {} })) as {
        sleeps: SleepOutcome[];
      }
    ).sleeps;

  beforeAll(async () => {
    gate = await startSidecarUnderTest({
      policyFixture: 'slow-stdio',
      upstream: { upstreamCommand: stdioServer('slow') },
      audience: 'https://slow.mcp.example.com/mcp',
    });
    observer = await connectAs(gate, anyone);
  });
  afterAll(async () => {
    await observer?.close();
    await gate?.stop();
  });

  it('passes a client abort on to the process as notifications/cancelled, and ends that request', async () => {
    const before = (await sleeps()).length;
    const audited = gate.audit.events.length;
    const client = await connectAs(gate, anyone);
    const abort = new AbortController();
    const call = client.callTool({ name: 'sleep', arguments: { ms: 30_000 } }, undefined, {
      signal: abort.signal,
    });
    await delay(200);
    abort.abort('test gave up');
    await expect(call).rejects.toThrow('test gave up');
    const recorded = await eventually(sleeps, (s) => s.length > before, 5000, 50);
    // The client's reason reaches the server, as it would without the bridge in between.
    expect(recorded.slice(before)).toMatchObject([
      { requested_ms: 30_000, cancelled: true, reason: 'test gave up' },
    ]);
    expect(recorded.at(-1)!.slept_ms).toBeLessThan(5000);
    // No answer will come for a cancelled request, so the sidecar must not hold its request open
    // until the call timeout (20 s): the request ends, and is audited, right away.
    const sleepEvent = async () => gate.audit.events.slice(audited).find((e) => e.tool === 'sleep');
    const event = await eventually(sleepEvent, (e) => e !== undefined, 3000, 50);
    expect(event).toMatchObject({ decision: 'allowed' });
    expect(event!.latencyMs).toBeLessThan(3000);
    await client.close();
  });

  it('answers a call that outlives its timeout with upstream_timeout, and cancels it on the process', async () => {
    const before = (await sleeps()).length;
    const client = await connectAs(gate, { ...anyone, azp: 'impatient-agent' });
    const started = Date.now();
    const failed = await client
      .callTool({ name: 'sleep', arguments: { ms: 20_000 } }, undefined, { timeout: 5000 })
      .catch((e: Error) => e);
    // Answered on the call's open event stream, as a JSON-RPC error with our code.
    expect(failed).toMatchObject({ code: -31041, data: { portcullis: { code: 'upstream_timeout' } } });
    expect(Date.now() - started).toBeLessThan(3000);
    const recorded = await eventually(sleeps, (s) => s.length > before, 3000, 50);
    expect(recorded.slice(before)).toMatchObject([{ requested_ms: 20_000, cancelled: true }]);
    await client.close();
  });

  it('fails an in-flight call when the process dies, and serves the next call after the restart', async () => {
    const pids = childrenOf(process.pid, [STDIO_SERVER, 'slow']);
    expect(pids).toHaveLength(1); // the sidecar's one shared process, and nobody else's
    const pid = pids[0];
    const client = await connectAs(gate, anyone);
    const call = client.callTool({ name: 'sleep', arguments: { ms: 30_000 } }).catch((e: Error) => e);
    await delay(200);
    signalProcess(pid!, 'SIGKILL');
    const started = Date.now();
    const failed = await call;
    expect(failed).toBeInstanceOf(Error);
    expect(String(failed)).toContain('exited');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await waitUntilGone([pid!], 2000)).toBe(true);

    const next = () =>
      client
        .callTool({ name: 'sleep', arguments: { ms: 1 } })
        .then((r) => structured(r)['cancelled'])
        .catch((e: Error) => String(e));
    expect(await eventually(next, (v) => v === false, 5000, 100)).toBe(false);
    const [restarted] = childrenOf(process.pid, [STDIO_SERVER, 'slow']);
    expect(restarted).not.toBe(pid);
    // The new process has its own record: the sleep just made, and nothing from before the crash.
    expect(await sleeps()).toMatchObject([{ requested_ms: 1, cancelled: false }]);
    await client.close();
  });
});
