import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs } from '../harness/sidecar-clients.ts';
import { stdioBridgeBinary } from '../harness/stdio-bridge.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The pod-local stdio bridge: the server runs under portcullis-stdio-bridge (as in its own container),
 * the sidecar reaches it through the Unix socket, and survives the server's container restarting.
 */
const AUDIENCE = 'https://billing.mcp.example.com/mcp';
const support = {
  sub: 'alice',
  azp: 'support-copilot',
  tenant_id: 'acme',
  groups: ['support'],
  scope: 'billing billing:invoices:read',
};
const server = join(import.meta.dirname, '../fixtures/mcp/stdio-server.ts');

describe('sidecar through the stdio bridge', () => {
  let dir: string;
  let socket: string;
  let bridge: ChildProcess;
  let gate: SidecarUnderTest;

  const startBridge = async () => {
    const binary = await stdioBridgeBinary();
    const child = spawn(binary, ['--socket', socket, '--', process.execPath, server, 'billing'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return child;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-bridge-'));
    socket = join(dir, 'stdio.sock');
    bridge = await startBridge();
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamSocket: socket },
      audience: AUDIENCE,
    });
  }, 120_000);
  afterAll(async () => {
    await gate?.stop();
    bridge?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves calls through the socket, with policy applied', async () => {
    const client = await connectAs(gate, support);
    const result = await client.callTool({
      name: 'read_invoice',
      arguments: { customer_id: 'globex', invoice_id: 'I-1' },
    });
    expect(
      (result as unknown as { structuredContent: { received: unknown } }).structuredContent.received,
    ).toEqual({
      customer_id: 'acme',
      invoice_id: 'I-1',
    });
    await client.close();
  });

  it('reconnects when the server container restarts', async () => {
    const exited = new Promise((resolve) => bridge.once('exit', resolve));
    bridge.kill('SIGTERM');
    await exited;
    bridge = await startBridge();
    const deadline = Date.now() + 10_000;
    let outcome = 'not tried';
    while (Date.now() < deadline) {
      outcome = await connectAs(gate, support)
        .then(async (client) => {
          await client.callTool({ name: 'list_invoices', arguments: { customer_id: 'acme' } });
          await client.close();
          return 'ok';
        })
        .catch((e: Error) => String(e));
      if (outcome === 'ok') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(outcome).toBe('ok');
  });
});
