import { fullKillRecord } from '../../api/v1alpha1/annotations.ts';
import { identityValue, isKilled, subjectMatches } from '../../policy/authorize.ts';
import type { BundleRule } from '../../policy/bundle.ts';
import { conditionInput, valueAt, withValueAt, type Args } from '../../policy/call-arguments.ts';
import type { LoadedPolicy, LoadedRule } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';

/**
 * Why each rule did or did not hold for one caller, tool and arguments, in the order authorize()
 * evaluates them: kill switches, then Deny rules, then Allow rules until one holds. Pure; it explains,
 * while the decision printed next to it comes from authorize() itself, and a disagreement is reported.
 */
export interface RuleTrace {
  readonly ref: string;
  readonly effect: 'Allow' | 'Deny';
  /** From an Audit-mode policy: not part of the decision, only of would-deny. */
  readonly shadow: boolean;
  readonly holds: boolean;
  /** Each check made, in order, ending with the one that failed (if any). */
  readonly steps: readonly string[];
  /** False when an earlier rule or a kill switch decided first: shown, but not part of the decision. */
  readonly reached?: boolean;
}

export interface Trace {
  /** The kill switch that refuses the tool, if any. */
  readonly killedBy?: string;
  readonly rules: readonly RuleTrace[];
  /** ToolPolicy/rule the trace finds decides, or undefined for no rule (kill switch, default deny). */
  readonly decidingRule?: string;
  readonly allowed: boolean;
}

export function bundleRule(policy: LoadedPolicy, rule: LoadedRule): BundleRule | undefined {
  return policy.bundle.policies.find((p) => p.name === rule.policy)?.rules.find((r) => r.name === rule.rule);
}

export function killedBy(policy: LoadedPolicy, tool: string): string | undefined {
  if (!isKilled(policy, tool)) return undefined;
  const describe = (source: string, name: string, reason: string | undefined) =>
    `kill switch on ${source} ${name}${reason ? ` (${reason})` : ''}`;
  const server = policy.serverKill;
  if (server) return describe(server.source, server.name, fullKillRecord(server));
  if (policy.killedTools.has(tool)) {
    const { toolReasons, reason } = policy.bundle.kill;
    const record = toolReasons?.[tool] ?? (reason !== undefined ? { reason } : undefined);
    return describe('McpServer', `${policy.bundle.server.name}, tool ${tool}`, fullKillRecord(record));
  }
  const kill = policy.policyKills.find((k) => k.matchesTool(tool))?.kill;
  return kill && describe(kill.source, kill.name, fullKillRecord(kill));
}

function subjectSteps(rule: BundleRule, principal: Principal): string {
  const s = rule.subjects;
  if (s === undefined) return 'subjects: every authenticated caller';
  const parts: string[] = [];
  if (s.users)
    parts.push(
      `user ${principal.user} ${s.users.includes(principal.user) ? 'in' : 'NOT in'} [${s.users.join(', ')}]`,
    );
  if (s.agents)
    parts.push(
      `agent ${principal.agent} ${s.agents.includes(principal.agent) ? 'in' : 'NOT in'} [${s.agents.join(', ')}]`,
    );
  if (s.tenants) {
    const tenant = principal.tenant ?? '(none)';
    parts.push(
      `tenant ${tenant} ${principal.tenant !== undefined && s.tenants.includes(principal.tenant) ? 'in' : 'NOT in'} [${s.tenants.join(', ')}]`,
    );
  }
  if (s.groups) {
    const shared = principal.groups.filter((g) => s.groups!.includes(g));
    parts.push(
      shared.length > 0
        ? `group ${shared.join(', ')} in [${s.groups.join(', ')}]`
        : `no group of [${principal.groups.join(', ')}] in [${s.groups.join(', ')}]`,
    );
  }
  return `subjects: ${parts.join('; ')}`;
}

function traceRule(
  policy: LoadedPolicy,
  rule: LoadedRule,
  principal: Principal,
  tool: string,
  args: Args,
): RuleTrace {
  const source = bundleRule(policy, rule);
  const ref = `${rule.policy}/${rule.rule}`;
  const base = { ref, effect: rule.effect, shadow: rule.shadow };
  const steps: string[] = [];
  const stop = (why: string): RuleTrace => ({ ...base, holds: false, steps: [...steps, why] });
  const tools = `[${(source?.tools ?? []).join(', ')}]`;
  if (!rule.matchesTool(tool)) return stop(`tool ${tool} NOT in ${tools}`);
  steps.push(`tool ${tool} in ${tools}`);
  const subjects = source ? subjectSteps(source, principal) : 'subjects';
  if (!subjectMatches(rule, principal)) return stop(subjects);
  steps.push(subjects);

  let bound = args;
  if (rule.effect === 'Allow') {
    const missing = rule.scopes.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) return stop(`scopes: missing ${missing.join(' ')} (insufficient_scope)`);
    if (rule.scopes.length > 0) steps.push(`scopes: has ${rule.scopes.join(' ')}`);
    for (const binding of rule.bindings) {
      const path = binding.path.join('.');
      const value = identityValue(principal, binding.from);
      if (value === undefined)
        return stop(
          `argument ${path}: bound to ${binding.from}, which the token does not carry (argument_binding)`,
        );
      if (binding.mode === 'Force') {
        bound = withValueAt(bound, binding.path, value);
        steps.push(`argument ${path} := ${binding.from} (${JSON.stringify(value)}, Force)`);
      } else if (valueAt(bound, binding.path) !== value) {
        return stop(
          `argument ${path} is ${JSON.stringify(valueAt(bound, binding.path)) ?? 'absent'}, must equal ${binding.from} ${JSON.stringify(value)} (Require; argument_binding)`,
        );
      } else {
        steps.push(`argument ${path} equals ${binding.from} (Require)`);
      }
    }
  }
  if (rule.condition !== undefined) {
    const holds = rule.condition(conditionInput(principal, tool, bound));
    const text = `when ${source?.when ?? ''}`;
    if (holds === true) steps.push(`${text}: true`);
    else if (holds === false) return stop(`${text}: false`);
    else if (rule.effect === 'Deny')
      steps.push(`${text}: error (${holds.error}); a Deny rule's failing condition holds (fail closed)`);
    else return stop(`${text}: error (${holds.error}); fails closed (condition_error)`);
  }
  return { ...base, holds: true, steps };
}

export function traceCall(policy: LoadedPolicy, principal: Principal, tool: string, args: Args): Trace {
  const kill = killedBy(policy, tool);
  const all = [...policy.denyRules, ...policy.allowRules].map((rule) =>
    traceRule(policy, rule, principal, tool, args),
  );
  // Shadow rules are traced for would-deny; every enforced rule after the deciding one is not reached.
  const enforced = all.filter((r) => !r.shadow);
  const deny = enforced.find((r) => r.effect === 'Deny' && r.holds);
  const allow = deny === undefined ? enforced.find((r) => r.effect === 'Allow' && r.holds) : undefined;
  const decider = kill !== undefined ? undefined : (deny ?? allow);
  const cut = kill !== undefined ? -1 : decider === undefined ? all.length : all.indexOf(decider);
  const rules = all.map((r, index) => ({
    ...r,
    reached: r.shadow || (cut >= 0 && (index <= cut || r.effect === 'Deny')),
  }));
  if (kill !== undefined) return { killedBy: kill, rules, allowed: false };
  return {
    rules,
    ...(decider === undefined ? {} : { decidingRule: decider.ref }),
    allowed: decider !== undefined && decider.effect === 'Allow',
  };
}
