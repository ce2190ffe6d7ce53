import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../run.ts';

const repo = join(import.meta.dirname, '../..');
const billing = join(repo, 'examples/billing.yaml');
const billingCalls = join(repo, 'examples/policy-tests/billing-calls.yaml');
const dir = mkdtempSync(join(tmpdir(), 'portcullis-policy-test-'));

async function run(args: string[]) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    env: {},
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
  const code = await runCli(args, io);
  return { code, out, err };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('portcullis policy test', () => {
  it('passes the billing example calls, naming rules, codes and bound arguments', async () => {
    const result = await run(['policy', 'test', '-f', billing, '--calls', billingCalls]);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      "PASS  [2] cross-tenant invoice read is bound back to the caller's tenant (Force)",
    );
    expect(result.out).toContain('arguments after bindings: {"customer_id":"acme","invoice_id":"INV-7"}');
    expect(result.out).toMatch(
      /PASS {2}\[3\] cross-tenant refund is refused by the argument binding \(Require\)\n.*\n {6}denied \(argument_binding\) by refunds-need-finance-lead\/finance-leads-refund-small-amounts: argument customer_id must equal the caller's tenant/,
    );
    expect(result.out).toMatch(
      /9 calls: 9 passed, 0 failed, 0 without expectations \(McpServer finance\/billing, policy sha256:[0-9a-f]{64}\)\n$/,
    );
  });

  it('exits 1 and says why when an expectation fails; json for programs', async () => {
    const calls = file(
      'wrong.yaml',
      [
        '- { name: wrong, user: eve, agent: x, groups: [support], scopes: [billing, "billing:invoices:read"], tenant: acme, tool: read_invoice, expect: deny }',
        '- { user: eve, agent: x, scopes: [billing], tool: read_invoice }',
      ].join('\n'),
    );
    const text = await run(['policy', 'test', '-f', billing, '--calls', calls]);
    expect(text.code).toBe(1);
    expect(text.out).toContain('FAIL  [1] wrong');
    expect(text.out).toContain('      expected deny, got allow');
    expect(text.out).toContain('-     [2] call 2');
    expect(text.out).toContain('2 calls: 0 passed, 1 failed, 1 without expectations');

    const json = await run(['policy', 'test', '-f', billing, '--calls', calls, '-o', 'json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as { summary: unknown; calls: Record<string, unknown>[] };
    expect(report.summary).toEqual({ total: 2, passed: 0, failed: 1, unchecked: 1 });
    expect(report.calls[0]).toMatchObject({
      index: 1,
      name: 'wrong',
      allowed: true,
      rule: 'support-reads-own-tenant/read-invoices',
      boundArguments: { customer_id: 'acme' },
      expected: 'deny',
      pass: false,
      failures: ['expected deny, got allow'],
    });
  });

  it('evaluates kill switches from the files, as the compiler collects them', async () => {
    const killedNs = file(
      'ns.yaml',
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: finance\n  annotations:\n    portcullis.dev/kill-switch: "true"\n    portcullis.dev/kill-reason: "INC-1"\n',
    );
    const calls = file(
      'killed.yaml',
      '- { user: alice, agent: a, tenant: acme, groups: [support], scopes: [billing, "billing:invoices:read"], tool: read_invoice, expectCode: killed }',
    );
    const result = await run(['policy', 'test', '-f', billing, '-f', killedNs, '--calls', calls]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('denied (killed): kill switch on Namespace finance: INC-1');
  });

  it.each([
    [['policy', 'test', '--calls', billingCalls], /-f FILE\|DIR is required/],
    [['policy', 'test', '-f', billing], /--calls FILE is required/],
    [
      ['policy', 'test', '-f', join(dir, 'missing.yaml'), '--calls', billingCalls],
      /no such file or directory/,
    ],
    [
      ['policy', 'test', '-f', billing, '--calls', billingCalls, '--server', 'finance/other'],
      /no such McpServer in the files \(found: finance\/billing\)/,
    ],
    [['policy', 'test', '-f', billing, '--calls', billingCalls, '-o', 'yaml'], /-o must be text or json/],
    [['policy', 'frobnicate'], /unknown subcommand "frobnicate"/],
  ])('exits 2 on %j', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
  });

  it('exits 2 naming the file and field of an invalid policy, and of one that does not compile', async () => {
    const broken = file(
      'broken.yaml',
      readFileSync(billing, 'utf8').replace('groups: [support]', 'groups: support'),
    );
    const invalid = await run(['policy', 'test', '-f', broken, '--calls', billingCalls]);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/broken\.yaml#2 \(ToolPolicy\): spec\.rules\.0\.subjects\.groups: /);

    const badCel = file(
      'cel.yaml',
      readFileSync(billing, 'utf8').replace("claims.acr == 'mfa'", 'nosuchvar == 1'),
    );
    const uncompiled = await run(['policy', 'test', '-f', badCel, '--calls', billingCalls]);
    expect(uncompiled.code).toBe(2);
    expect(uncompiled.err).toMatch(
      /does not compile:\n {2}ToolPolicy refunds-need-finance-lead spec\.rules\[finance-leads-refund-small-amounts\]\.when: /,
    );
  });

  it('needs --server when the files hold several servers', async () => {
    const result = await run(['policy', 'test', '-f', join(repo, 'examples'), '--calls', billingCalls]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/McpServers \(.*finance\/billing.*\): pick one with --server NAMESPACE\/NAME/);
    const picked = await run([
      'policy',
      'test',
      '-f',
      join(repo, 'examples'),
      '--calls',
      billingCalls,
      '--server',
      'finance/billing',
    ]);
    expect(picked.code).toBe(0);
  });
});

describe('portcullis policy explain', () => {
  it('lists per tool the rules that may allow or deny it', async () => {
    const result = await run(['policy', 'explain', '-f', billing]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('  kill switches in force: none');
    expect(result.out).toMatch(
      /Tool issue_refund\n {2}denied by \(any that holds\):\n {4}refunds-need-finance-lead\/nobody-refunds-from-batch-agents\n {6}who: agents \[nightly-batch\]/,
    );
    expect(result.out).toContain("      when: args.amount_cents <= 50000 && claims.acr == 'mfa'");
    expect(result.out).toContain(
      '      argument customer_id := tenant (Force: set whatever the caller sent)',
    );
    expect(result.out).toContain('      limits: rate 5/s burst 10 per Subject, timeout 10s');
  });

  it('traces a caller through every rule and agrees with the decision', async () => {
    const result = await run([
      'policy',
      'explain',
      '-f',
      billing,
      '--tool',
      'issue_refund',
      '--as',
      'frank',
      '--agent',
      'finance-copilot',
      '--tenant',
      'acme',
      '--group',
      'finance-leads',
      '--scope',
      'billing',
      '--scope',
      'billing:refunds:write',
      '--claims',
      '{"acr":"mfa"}',
      '--args',
      '{"customer_id":"globex","amount_cents":100}',
    ]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('       - subjects: agent finance-copilot NOT in [nightly-batch]');
    expect(result.out).toContain(
      '       - argument customer_id is "globex", must equal tenant "acme" (Require; argument_binding)',
    );
    expect(result.out).toContain(
      '  => denied (argument_binding) by refunds-need-finance-lead/finance-leads-refund-small-amounts',
    );
    expect(result.out).toContain('     shown in tools/list to this caller: yes');
    expect(result.out).not.toContain('disagree');
  });

  it('refuses caller flags without --as, and bad JSON', async () => {
    expect((await run(['policy', 'explain', '-f', billing, '--group', 'x'])).err).toMatch(/add --as USER/);
    const bad = await run(['policy', 'explain', '-f', billing, '--as', 'a', '--claims', '{']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--claims is not JSON/);
  });
});
