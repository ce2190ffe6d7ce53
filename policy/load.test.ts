import { describe, expect, it } from 'vitest';
import { loadExample } from '../test/fixtures/examples.ts';
import { cel } from './cel.ts';
import { compile } from './compile.ts';
import { ConditionLanguageMissingError } from './condition.ts';
import { loadBundle } from './load.ts';

const billing = loadExample('billing.yaml');
const server = billing.servers[0]!;

function bundleOf(policies: typeof billing.policies) {
  const result = compile({ server, policies, conditions: cel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.bundle;
}

describe('loadBundle and the condition language', () => {
  it('plans every condition with the language it is given', () => {
    const loaded = loadBundle(bundleOf(billing.policies), cel);
    const conditioned = [...loaded.allowRules, ...loaded.denyRules].filter((r) => r.condition);
    expect(conditioned.length).toBeGreaterThan(0);
  });

  it('refuses a bundle with a condition when no language is given (the bundle is not used)', () => {
    expect(() => loadBundle(bundleOf(billing.policies))).toThrow(ConditionLanguageMissingError);
  });

  it('needs no language for a bundle without conditions', () => {
    const plain = billing.policies.map((policy) => ({
      ...policy,
      spec: { ...policy.spec, rules: policy.spec.rules.map(({ when: _when, ...rule }) => rule) },
    }));
    const loaded = loadBundle(bundleOf(plain));
    expect([...loaded.allowRules, ...loaded.denyRules].some((r) => r.condition)).toBe(false);
  });
});
