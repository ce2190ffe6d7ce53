import type { Bundle, BundleRule, KillSwitch } from './bundle.ts';
import { compileCondition, type Condition } from './cel.ts';
import type { RuleLimits } from './decision.ts';
import { nameMatcher, type NameMatcher } from './glob.ts';

/**
 * A bundle made ready for the hot path: globs, subject sets and CEL plans built once, here, so deciding
 * a call allocates no matchers and parses nothing.
 */
export interface Binding {
  readonly path: readonly string[];
  readonly from: string;
  readonly mode: 'Force' | 'Require';
}

export interface SubjectSets {
  readonly users?: ReadonlySet<string>;
  readonly groups?: ReadonlySet<string>;
  readonly agents?: ReadonlySet<string>;
  readonly tenants?: ReadonlySet<string>;
}

export interface LoadedRule {
  readonly policy: string;
  readonly rule: string;
  readonly effect: 'Allow' | 'Deny';
  /** From a policy in Audit mode: only counted toward would-deny. */
  readonly shadow: boolean;
  readonly matchesTool: NameMatcher;
  readonly subjects?: SubjectSets;
  readonly scopes: readonly string[];
  readonly condition?: Condition;
  readonly bindings: readonly Binding[];
  readonly limits?: RuleLimits;
}

export interface PolicyKill {
  readonly matchesTool: NameMatcher;
  readonly kill: KillSwitch;
}

export interface LoadedPolicy {
  readonly bundle: Bundle;
  readonly hash: string;
  readonly serverKill?: KillSwitch;
  readonly killedTools: ReadonlySet<string>;
  readonly policyKills: readonly PolicyKill[];
  readonly denyRules: readonly LoadedRule[];
  readonly allowRules: readonly LoadedRule[];
  readonly hasShadowRules: boolean;
}

const asSet = (values: readonly string[] | undefined) => (values === undefined ? undefined : new Set(values));

function loadRule(policy: string, shadow: boolean, rule: BundleRule): LoadedRule {
  const subjects = rule.subjects && {
    users: asSet(rule.subjects.users),
    groups: asSet(rule.subjects.groups),
    agents: asSet(rule.subjects.agents),
    tenants: asSet(rule.subjects.tenants),
  };
  return {
    policy,
    rule: rule.name,
    effect: rule.effect,
    shadow,
    matchesTool: nameMatcher(rule.tools),
    ...(subjects ? { subjects } : {}),
    scopes: rule.scopes ?? [],
    ...(rule.when !== undefined ? { condition: compileCondition(rule.when) } : {}),
    bindings: (rule.arguments ?? []).map((b) => ({ path: b.path.split('.'), from: b.from, mode: b.mode })),
    ...(rule.limits ? { limits: rule.limits } : {}),
  };
}

export function loadBundle(bundle: Bundle): LoadedPolicy {
  const rules = bundle.policies.flatMap((p) => p.rules.map((r) => loadRule(p.name, p.mode === 'Audit', r)));
  return {
    bundle,
    hash: bundle.hash,
    ...(bundle.kill.server[0] ? { serverKill: bundle.kill.server[0] } : {}),
    killedTools: new Set(bundle.kill.tools),
    policyKills: bundle.policies.flatMap((p) =>
      p.kill ? [{ matchesTool: nameMatcher(p.rules.flatMap((r) => r.tools)), kill: p.kill }] : [],
    ),
    denyRules: rules.filter((r) => r.effect === 'Deny'),
    allowRules: rules.filter((r) => r.effect === 'Allow'),
    hasShadowRules: rules.some((r) => r.shadow),
  };
}
