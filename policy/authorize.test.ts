import { describe, expect, it } from 'vitest';
import type { ToolPolicy } from '../api/v1alpha1/resources.ts';
import { loadExample } from '../test/fixtures/examples.ts';
import { principal } from '../test/fixtures/principals.ts';
import { authorize } from './authorize.ts';
import { compile } from './compile.ts';
import { loadBundle, type LoadedPolicy } from './load.ts';
import { isToolVisible } from './visibility.ts';
import { cel } from './cel.ts';

function load(
  file: string,
  edit: (p: ToolPolicy[]) => ToolPolicy[] = (p) => p,
  annotations?: Record<string, string>,
): LoadedPolicy {
  const { servers, policies } = loadExample(file);
  const server = servers[0]!;
  if (annotations) server.metadata.annotations = { ...server.metadata.annotations, ...annotations };
  const result = compile({ server, policies: edit(policies), conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return loadBundle(result.bundle, cel);
}

const billing = load('billing.yaml');
const support = principal();

describe('authorize: the billing example', () => {
  it('forces customer_id to the caller tenant, whatever the client sent', () => {
    const { decision } = authorize(billing, {
      principal: support,
      tool: 'read_invoice',
      args: { customer_id: 'globex', invoice: 'INV-1' },
    });
    expect(decision.allowed).toBe(true);
    if (!decision.allowed) return;
    expect(decision.args).toEqual({ customer_id: 'acme', invoice: 'INV-1' });
    expect(decision.rule).toEqual({ policy: 'support-reads-own-tenant', rule: 'read-invoices' });
    expect(decision.limits?.timeoutSeconds).toBe(10);
    expect(decision.policyHash).toBe(billing.hash);
  });

  it('refuses a caller without a tenant claim instead of guessing one', () => {
    const { decision } = authorize(billing, {
      principal: principal({ tenant: undefined }),
      tool: 'read_invoice',
      args: {},
    });
    expect(decision).toMatchObject({ allowed: false, code: 'argument_binding' });
    expect(decision.allowed || decision.reason).toContain('tenant');
  });

  it('default-denies tools and callers no rule names', () => {
    expect(
      authorize(billing, { principal: support, tool: 'delete_everything', args: {} }).decision,
    ).toMatchObject({
      allowed: false,
      code: 'no_matching_rule',
    });
    const outsider = principal({ groups: ['marketing'] });
    expect(
      authorize(billing, { principal: outsider, tool: 'read_invoice', args: {} }).decision,
    ).toMatchObject({
      code: 'no_matching_rule',
    });
  });

  it('names the missing scope so a client can step up', () => {
    const { decision } = authorize(billing, {
      principal: principal({ scopes: ['billing'] }),
      tool: 'list_invoices',
      args: {},
    });
    expect(decision).toMatchObject({
      allowed: false,
      code: 'insufficient_scope',
      missingScopes: ['billing:invoices:read'],
    });
  });

  const lead = principal({
    user: 'bob',
    agent: 'finance-copilot',
    groups: ['finance-leads'],
    scopes: ['billing:refunds:write'],
    claims: { acr: 'mfa' },
  });

  it('evaluates CEL conditions over claims and arguments, and Require bindings', () => {
    const ok = authorize(billing, {
      principal: lead,
      tool: 'issue_refund',
      args: { customer_id: 'acme', amount_cents: 100 },
    });
    expect(ok.decision.allowed).toBe(true);
    const tooMuch = authorize(billing, {
      principal: lead,
      tool: 'issue_refund',
      args: { customer_id: 'acme', amount_cents: 90000 },
    });
    expect(tooMuch.decision).toMatchObject({ allowed: false, code: 'no_matching_rule' });
    const otherTenant = authorize(billing, {
      principal: lead,
      tool: 'issue_refund',
      args: { customer_id: 'globex', amount_cents: 1 },
    });
    expect(otherTenant.decision).toMatchObject({ allowed: false, code: 'argument_binding' });
  });

  it('fails closed when a condition cannot be evaluated (missing argument)', () => {
    const { decision } = authorize(billing, {
      principal: lead,
      tool: 'issue_refund',
      args: { customer_id: 'acme' },
    });
    expect(decision).toMatchObject({ allowed: false, code: 'condition_error' });
  });

  it('lets Deny beat Allow', () => {
    const batch = { ...lead, agent: 'nightly-batch' };
    const withBatchAllowed = load('billing.yaml', (policies) => {
      const p = structuredClone(policies);
      p[0]!.spec.rules[0]!.subjects = { groups: ['finance-leads'] };
      return p;
    });
    expect(
      authorize(withBatchAllowed, {
        principal: { ...lead, agent: 'finance-copilot' },
        tool: 'issue_refund',
        args: { customer_id: 'acme', amount_cents: 1 },
      }).decision.allowed,
    ).toBe(true);
    expect(
      authorize(withBatchAllowed, {
        principal: batch,
        tool: 'issue_refund',
        args: { customer_id: 'acme', amount_cents: 1 },
      }).decision,
    ).toMatchObject({
      allowed: false,
      code: 'denied_by_rule',
      rule: { policy: 'refunds-need-finance-lead', rule: 'nobody-refunds-from-batch-agents' },
    });
  });

  it('lets a kill switch beat everything, and says which one', () => {
    const killed = load('billing.yaml', undefined, {
      'portcullis.dev/killed-tools': 'read_invoice',
      'portcullis.dev/kill-reason': 'SEC-9',
    });
    const { decision } = authorize(killed, { principal: support, tool: 'read_invoice', args: {} });
    expect(decision).toMatchObject({ allowed: false, code: 'killed' });
    expect(decision.allowed || decision.reason).toContain('SEC-9');
    expect(authorize(killed, { principal: support, tool: 'list_invoices', args: {} }).decision.allowed).toBe(
      true,
    );
    const server = load('billing.yaml', undefined, { 'portcullis.dev/kill-switch': 'true' });
    expect(authorize(server, { principal: support, tool: 'list_invoices', args: {} }).decision).toMatchObject(
      { code: 'killed' },
    );
    const policyKill = load('billing.yaml', (p) =>
      p.map((x) =>
        x.metadata.name === 'support-reads-own-tenant'
          ? { ...x, metadata: { ...x.metadata, annotations: { 'portcullis.dev/kill-switch': 'true' } } }
          : x,
      ),
    );
    expect(
      authorize(policyKill, { principal: support, tool: 'list_invoices', args: {} }).decision,
    ).toMatchObject({ code: 'killed' });
    expect(
      authorize(policyKill, {
        principal: lead,
        tool: 'issue_refund',
        args: { customer_id: 'acme', amount_cents: 1 },
      }).decision.allowed,
    ).toBe(true);
  });
});

describe('authorize: shadow (Audit-mode) policies', () => {
  const code = load('cookbook/code-hosting.yaml');
  const engineer = principal({
    user: 'eve',
    agent: 'ide-assistant',
    groups: ['engineering'],
    scopes: ['code:read', 'code:write'],
  });

  it('allows the call but reports what enforcing the shadow policy would deny', () => {
    const verdict = authorize(code, { principal: engineer, tool: 'push_commits', args: { branch: 'main' } });
    expect(verdict.decision.allowed).toBe(true);
    expect(verdict.wouldDeny).toMatchObject({
      code: 'denied_by_rule',
      rule: { policy: 'trial-feature-branches-only' },
    });
    const feature = authorize(code, {
      principal: engineer,
      tool: 'push_commits',
      args: { branch: 'feature/x' },
    });
    expect(feature.wouldDeny).toBeUndefined();
  });
});

describe('tools/list visibility', () => {
  it('shows exactly the tools a caller may call', () => {
    const tools = ['read_invoice', 'list_invoices', 'issue_refund', 'secret_admin'];
    expect(tools.filter((t) => isToolVisible(billing, support, t))).toEqual([
      'read_invoice',
      'list_invoices',
    ]);
    const noScope = principal({ scopes: [] });
    expect(tools.filter((t) => isToolVisible(billing, noScope, t))).toEqual([]);
    const lead = principal({
      groups: ['finance-leads'],
      agent: 'finance-copilot',
      scopes: ['billing:refunds:write'],
    });
    expect(tools.filter((t) => isToolVisible(billing, lead, t))).toEqual(['issue_refund']);
    const batch = { ...lead, agent: 'nightly-batch', groups: ['finance-leads'] };
    expect(isToolVisible(billing, batch, 'issue_refund')).toBe(false);
  });
});
