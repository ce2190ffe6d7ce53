import type { Bundle, BundleRule, KillSwitch } from './bundle.ts';
import { ConditionLanguageMissingError, type Condition, type ConditionLanguage } from './condition.ts';
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

function planCondition(rule: BundleRule, conditions: Pick<ConditionLanguage, 'plan'> | undefined) {
  if (rule.when === undefined) return {};
  if (conditions === undefined) throw new ConditionLanguageMissingError(rule.name);
  return { condition: conditions.plan(rule.when) };
}

function loadRule(
  policy: string,
  shadow: boolean,
  rule: BundleRule,
  conditions: Pick<ConditionLanguage, 'plan'> | undefined,
): LoadedRule {
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
    ...planCondition(rule, conditions),
    bindings: (rule.arguments ?? []).map((b) => ({ path: b.path.split('.'), from: b.from, mode: b.mode })),
    ...(rule.limits ? { limits: rule.limits } : {}),
  };
}

/**
 * `conditions` plans `when` conditions: CEL (`cel` of policy/cel.ts), passed in so that a sidecar whose
 * bundle has no condition never loads it. A bundle with a condition and no language throws
 * ConditionLanguageMissingError, as a condition that does not plan throws: the bundle is not used.
 */
export function loadBundle(bundle: Bundle, conditions?: Pick<ConditionLanguage, 'plan'>): LoadedPolicy {
  const rules = bundle.policies.flatMap((p) =>
    p.rules.map((r) => loadRule(p.name, p.mode === 'Audit', r, conditions)),
  );
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
