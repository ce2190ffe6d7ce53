import { describe, expect, it } from 'vitest';
import { KILL_REASON, KILL_SWITCH, KILLED_TOOLS } from '../api/v1alpha1/annotations.ts';
import type { McpServer, ToolPolicy } from '../api/v1alpha1/resources.ts';
import { loadExample } from '../test/fixtures/examples.ts';
import { bundleSchema } from './bundle.ts';
import { cel } from './cel.ts';
import { compile, targets, validatePolicy, type CompileInput } from './compile.ts';
import { NO_CONDITION_LANGUAGE } from './condition.ts';

const billing = loadExample('billing.yaml');
const server = billing.servers[0]!;

function withAnnotations<T extends McpServer | ToolPolicy>(
  object: T,
  annotations: Record<string, string>,
): T {
  return {
    ...object,
    metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, ...annotations } },
  };
}

function mustCompile(input: Omit<CompileInput, 'conditions'>) {
  const result = compile({ ...input, conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.bundle;
}

describe('compile', () => {
  it('selects policies by name and by label selector, in one namespace only', () => {
    const [byName, bySelector] = billing.policies;
    expect(targets(byName!, server)).toBe(true);
    expect(targets(bySelector!, server)).toBe(true);
    const elsewhere = { ...byName!, metadata: { ...byName!.metadata, namespace: 'other' } };
    expect(targets(elsewhere, server)).toBe(false);
    const unlabelled = { ...server, metadata: { ...server.metadata, labels: {} } };
    expect(targets(bySelector!, unlabelled)).toBe(false);
  });

  it('is deterministic: policy order does not change the bundle or its hash', () => {
    const a = mustCompile({ server, policies: billing.policies });
    const b = mustCompile({ server, policies: [...billing.policies].reverse() });
    expect(b).toEqual(a);
    expect(a.policies.map((p) => p.name)).toEqual(['refunds-need-finance-lead', 'support-reads-own-tenant']);
    expect(bundleSchema.parse(a)).toEqual(a);
  });

  it('changes the hash when anything that decides a call changes', () => {
    const base = mustCompile({ server, policies: billing.policies }).hash;
    const killed = mustCompile({
      server: withAnnotations(server, { [KILL_SWITCH]: 'true' }),
      policies: billing.policies,
    });
    expect(killed.hash).not.toBe(base);
    const fewer = mustCompile({ server, policies: billing.policies.slice(1) });
    expect(fewer.hash).not.toBe(base);
  });

  it('carries spec.auth.allowSharedAudience into the bundle: off by default, and a change changes the hash', () => {
    const strict = mustCompile({ server, policies: billing.policies });
    expect(strict.spec.auth.allowSharedAudience).toBe(false);
    const shared = mustCompile({
      server: {
        ...server,
        spec: { ...server.spec, auth: { ...server.spec.auth, allowSharedAudience: true } },
      },
      policies: billing.policies,
    });
    expect(shared.spec.auth.allowSharedAudience).toBe(true);
    expect(shared.hash).not.toBe(strict.hash);
    expect(bundleSchema.parse(shared)).toEqual(shared);
  });

  it('collects kill switches from the server, its tools, its namespace and its policies', () => {
    const bundle = mustCompile({
      server: withAnnotations(server, {
        [KILLED_TOOLS]: 'issue_refund, read_invoice',
        [KILL_REASON]: 'SEC-1',
      }),
      policies: [withAnnotations(billing.policies[0]!, { [KILL_SWITCH]: '' })],
      namespaceAnnotations: { [KILL_SWITCH]: 'true', [KILL_REASON]: 'incident' },
    });
    expect(bundle.kill.server).toEqual([{ source: 'Namespace', name: 'finance', reason: 'incident' }]);
    expect(bundle.kill.tools).toEqual(['issue_refund', 'read_invoice']);
    expect(bundle.kill.reason).toBe('SEC-1');
    expect(bundle.policies.find((p) => p.name === 'support-reads-own-tenant')?.kill).toEqual({
      source: 'ToolPolicy',
      name: 'support-reads-own-tenant',
    });
  });

  it('fails the whole bundle on a condition that does not compile, naming the rule', () => {
    const broken = structuredClone(billing.policies[0]!);
    broken.spec.rules[0]!.when = 'args.amount <';
    const unknownVariable = structuredClone(billing.policies[1]!);
    unknownVariable.spec.rules[0]!.when = 'request.amount < 5';
    const result = compile({ server, policies: [broken, unknownVariable], conditions: cel });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(2);
    expect(result.errors[0]).toMatchObject({
      policy: 'refunds-need-finance-lead',
      field: 'spec.rules[finance-leads-refund-small-amounts].when',
    });
    expect(result.errors[0]?.message).toContain("unknown variable 'request'");
    expect(result.errors[1]?.message).toMatch(/^CEL syntax error: <input>:1:13/);
  });

  it('refuses any condition when no condition language is given (fail closed), and only conditions', () => {
    const result = compile({ server, policies: billing.policies });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.length).toBeGreaterThan(0);
    for (const error of result.errors) {
      expect(error.field).toMatch(/\.when$/);
      expect(error.message).toBe(NO_CONDITION_LANGUAGE);
    }
    const withoutConditions = billing.policies.map((policy) => ({
      ...policy,
      spec: { ...policy.spec, rules: policy.spec.rules.map(({ when: _when, ...rule }) => rule) },
    }));
    expect(compile({ server, policies: withoutConditions }).ok).toBe(true);
  });

  it('accepts every condition in the examples', () => {
    for (const file of ['billing.yaml', 'cookbook/code-hosting.yaml', 'stdio-docs.yaml']) {
      for (const policy of loadExample(file).policies) expect(validatePolicy(policy, cel)).toEqual([]);
    }
  });
});
