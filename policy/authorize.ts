import { fullKillRecord, publicKillReason } from '../api/v1alpha1/annotations.ts';
import type { Allow, Decision, Denial, Verdict } from './decision.ts';
import { conditionInput, valueAt, withValueAt, type Args } from './call-arguments.ts';
import type { Binding, LoadedPolicy, LoadedRule } from './load.ts';
import type { Principal } from './principal.ts';

/**
 * Default deny, positive allow. Order of precedence: kill switch, then any matching Deny rule, then the
 * first Allow rule (policies by name, rules in order) whose tools, subjects, scopes, argument bindings
 * and condition all hold. Errors in conditions fail closed.
 */
export interface Call {
  readonly principal: Principal;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export function subjectMatches(rule: LoadedRule, principal: Principal): boolean {
  const s = rule.subjects;
  if (s === undefined) return true;
  if (s.users && !s.users.has(principal.user)) return false;
  if (s.agents && !s.agents.has(principal.agent)) return false;
  if (s.tenants && (principal.tenant === undefined || !s.tenants.has(principal.tenant))) return false;
  if (s.groups && !principal.groups.some((g) => s.groups!.has(g))) return false;
  return true;
}

/** The identity value a binding takes, only ever from verified claims. */
export function identityValue(principal: Principal, from: string): unknown {
  switch (from) {
    case 'user':
      return principal.user;
    case 'agent':
      return principal.agent;
    case 'tenant':
      return principal.tenant;
    default: {
      const claim = principal.claims[from.slice('claims.'.length)];
      return typeof claim === 'string' || typeof claim === 'number' || typeof claim === 'boolean'
        ? claim
        : undefined;
    }
  }
}

type BindingOutcome = { readonly args: Args } | { readonly failure: string };

function applyBindings(bindings: readonly Binding[], principal: Principal, args: Args): BindingOutcome {
  let bound = args;
  for (const binding of bindings) {
    const value = identityValue(principal, binding.from);
    const path = binding.path.join('.');
    if (value === undefined)
      return { failure: `argument ${path} is bound to ${binding.from}, which the token does not carry` };
    if (binding.mode === 'Force') {
      bound = withValueAt(bound, binding.path, value);
    } else if (valueAt(bound, binding.path) !== value) {
      return { failure: `argument ${path} must equal the caller's ${binding.from}` };
    }
  }
  return { args: bound };
}

const ref = (rule: LoadedRule) => ({ policy: rule.policy, rule: rule.rule });

function deny(hash: string, fields: Omit<Denial, 'allowed' | 'policyHash'>): Denial {
  return { allowed: false, policyHash: hash, ...fields };
}

/** Whether any kill switch (server, named tool, or a policy that selects the tool) covers this tool. */
export function isKilled(policy: LoadedPolicy, tool: string): boolean {
  return (
    policy.serverKill !== undefined ||
    policy.killedTools.has(tool) ||
    policy.policyKills.some((k) => k.matchesTool(tool))
  );
}

function killDenial(policy: LoadedPolicy, tool: string): Denial | undefined {
  const text = killTexts(policy, tool);
  if (text === undefined) return undefined;
  return deny(policy.hash, { code: 'killed', reason: text.full, publicReason: text.public });
}

/**
 * What a kill switch covering `tool` says: in full (who and why, for audit and people with access to the
 * cluster) and in public (for the caller: which switch, and a bounded reason without who). Each switch
 * has its own reason: the server's, the tool's own, the ToolPolicy's, the Namespace's.
 */
export function killTexts(policy: LoadedPolicy, tool: string): { full: string; public: string } | undefined {
  const { kill: bundleKill } = policy.bundle;
  const record: { what: string; reason?: string; by?: string } | undefined = policy.serverKill
    ? { what: `${policy.serverKill.source} ${policy.serverKill.name}`, ...policy.serverKill }
    : policy.killedTools.has(tool)
      ? {
          what: `tool ${tool}`,
          ...(bundleKill.toolReasons?.[tool] ??
            (bundleKill.reason !== undefined ? { reason: bundleKill.reason } : {})),
        }
      : (() => {
          const kill = policy.policyKills.find((k) => k.matchesTool(tool))?.kill;
          return kill && { what: `${kill.source} ${kill.name}`, ...kill };
        })();
  if (record === undefined) return undefined;
  const full = fullKillRecord(record);
  const shown = publicKillReason(record);
  return {
    full: `kill switch on ${record.what}${full ? `: ${full}` : ''}`,
    public: `kill switch on ${record.what}${shown ? `: ${shown}` : ''}`,
  };
}

function evaluate(policy: LoadedPolicy, call: Call, includeShadow: boolean): Decision {
  const applies = (rule: LoadedRule) =>
    (includeShadow || !rule.shadow) && rule.matchesTool(call.tool) && subjectMatches(rule, call.principal);

  for (const rule of policy.denyRules) {
    if (!applies(rule)) continue;
    const holds = rule.condition
      ? rule.condition(conditionInput(call.principal, call.tool, call.args))
      : true;
    if (holds === false) continue;
    return deny(policy.hash, {
      code: 'denied_by_rule',
      reason:
        holds === true
          ? `denied by rule ${rule.rule} of ToolPolicy ${rule.policy}`
          : `denied by rule ${rule.rule} of ToolPolicy ${rule.policy}: its condition failed (${holds.error})`,
      rule: ref(rule),
    });
  }

  let scopeDenial: Denial | undefined;
  let bindingDenial: Denial | undefined;
  let conditionDenial: Denial | undefined;
  for (const rule of policy.allowRules) {
    if (!applies(rule)) continue;
    const missing = rule.scopes.filter((s) => !call.principal.scopes.includes(s));
    if (missing.length > 0) {
      scopeDenial ??= deny(policy.hash, {
        code: 'insufficient_scope',
        reason: `rule ${rule.rule} of ToolPolicy ${rule.policy} needs scope ${missing.join(' ')}`,
        rule: ref(rule),
        missingScopes: missing,
      });
      continue;
    }
    const bound = applyBindings(rule.bindings, call.principal, call.args);
    if ('failure' in bound) {
      bindingDenial ??= deny(policy.hash, {
        code: 'argument_binding',
        reason: bound.failure,
        rule: ref(rule),
      });
      continue;
    }
    const holds = rule.condition
      ? rule.condition(conditionInput(call.principal, call.tool, bound.args))
      : true;
    if (holds === true) {
      const allow: Allow = {
        allowed: true,
        policyHash: policy.hash,
        rule: ref(rule),
        args: bound.args,
        ...(rule.limits ? { limits: rule.limits } : {}),
      };
      return allow;
    }
    if (holds !== false) {
      conditionDenial ??= deny(policy.hash, {
        code: 'condition_error',
        reason: `condition of rule ${rule.rule} of ToolPolicy ${rule.policy} failed: ${holds.error}`,
        rule: ref(rule),
      });
    }
  }
  return (
    scopeDenial ??
    bindingDenial ??
    conditionDenial ??
    deny(policy.hash, { code: 'no_matching_rule', reason: `no rule allows ${call.tool} for this caller` })
  );
}

/** The decision for one tools/call, plus what the Audit-mode policies would have decided. */
export function authorize(policy: LoadedPolicy, call: Call): Verdict {
  const killed = killDenial(policy, call.tool);
  if (killed) return { decision: killed };
  const decision = evaluate(policy, call, false);
  if (!decision.allowed || !policy.hasShadowRules) return { decision };
  const shadow = evaluate(policy, call, true);
  return shadow.allowed ? { decision } : { decision, wouldDeny: shadow };
}
