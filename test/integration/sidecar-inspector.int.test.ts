import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpFixture, type HttpFixture } from '../fixtures/mcp/http-fixture.ts';
import { inspectorResult, runInspector } from '../harness/inspector-cli.ts';
import { BILLING_AUDIENCE, supportAgent } from '../harness/sidecar-clients.ts';
import { startSidecarUnderTest, type SidecarUnderTest } from '../harness/sidecar-under-test.ts';

/**
 * The MCP Inspector CLI, a client we did not write, through the sidecar: it sends its token with
 * --header, and sees the same filtered list, bound arguments and typed refusals as our SDK clients.
 */
describe('the MCP Inspector CLI through the sidecar', () => {
  let upstream: HttpFixture;
  let gate: SidecarUnderTest;
  let token: string;

  beforeAll(async () => {
    upstream = await startHttpFixture('billing');
    gate = await startSidecarUnderTest({
      policyFixture: 'billing',
      upstream: { upstreamUrl: upstream.url },
      audience: BILLING_AUDIENCE,
    });
    token = await gate.token(supportAgent);
  });
  afterAll(async () => {
    await gate?.stop();
    await upstream?.close();
  });

  const inspect = (args: readonly string[]) => runInspector(gate.url, args, { token });
  const listInvoices = [
    '--method',
    'tools/call',
    '--tool-name',
    'list_invoices',
    '--tool-arg',
    'customer_id=globex',
  ];

  it('lists only the tools the caller may call', async () => {
    const run = await inspect(['--method', 'tools/list']);
    expect(run.code, run.stderr).toBe(0);
    const tools = inspectorResult(run)['tools'] as { name: string }[];
    expect(tools.map((t) => t.name).sort()).toEqual(['list_invoices', 'read_invoice', 'whoami']);
  });

  it('is refused without a token', async () => {
    const run = await runInspector(gate.url, ['--method', 'tools/list']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('missing_token');
  });

  it('makes an allowed call, with the tenant binding forced', async () => {
    const run = await inspect(listInvoices);
    expect(run.code, run.stderr).toBe(0);
    expect(inspectorResult(run)['structuredContent']).toMatchObject({
      received: { customer_id: 'acme' },
      invoices: ['acme-inv-1', 'acme-inv-2'],
    });
  });

  it('gets a typed refusal for a call the policy does not allow', async () => {
    const run = await inspect([
      '--method',
      'tools/call',
      '--tool-name',
      'issue_refund',
      '--tool-arg',
      'customer_id=acme',
      'amount_cents=5',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('"code":-31010');
    expect(run.stderr).toContain('"code":"no_matching_rule"');
    expect(gate.audit.events.findLast((e) => e.tool === 'issue_refund')).toMatchObject({
      decision: 'denied',
      code: 'no_matching_rule',
    });
  });

  it('gets the kill-switch refusal once the tool is killed in the policy files, and recovers', async () => {
    const serverFile = join(gate.policyDir, 'server.yaml');
    const original = await readFile(serverFile, 'utf8');
    await writeFile(
      serverFile,
      original.replace(
        '  namespace: finance\n',
        '  namespace: finance\n  annotations:\n    portcullis.dev/killed-tools: list_invoices\n    portcullis.dev/kill-reason: "SEC-7 inspector test"\n',
      ),
    );
    try {
      await gate.sidecar.source.reload();
      expect(gate.sidecar.context.policy.current?.killedTools.has('list_invoices')).toBe(true);
      const killed = await inspect(listInvoices);
      expect(killed.code).toBe(1);
      expect(killed.stderr).toContain('"code":-31020');
      expect(killed.stderr).toContain('"code":"killed"');
      const listed = await inspect(['--method', 'tools/list']);
      expect((inspectorResult(listed)['tools'] as { name: string }[]).map((t) => t.name).sort()).toEqual([
        'read_invoice',
        'whoami',
      ]);
    } finally {
      await writeFile(serverFile, original);
      await gate.sidecar.source.reload();
    }
    const released = await inspect(listInvoices);
    expect(released.code, released.stderr).toBe(0);
  });
});
