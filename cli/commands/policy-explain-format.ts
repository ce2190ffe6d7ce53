import type { BundleRule } from '../../policy/bundle.ts';
import type { LoadedPolicy } from '../../policy/load.ts';

/** Who a rule applies to, in words. */
export function subjectsText(rule: BundleRule): string {
  const s = rule.subjects;
  if (s === undefined) return 'every authenticated caller';
  return [
    s.users && `users [${s.users.join(', ')}]`,
    s.groups && `groups [${s.groups.join(', ')}]`,
    s.agents && `agents [${s.agents.join(', ')}]`,
    s.tenants && `tenants [${s.tenants.join(', ')}]`,
  ]
    .filter((part) => part !== undefined)
    .join(' and ');
}

export function limitsText(rule: BundleRule): string | undefined {
  const l = rule.limits;
  if (l === undefined) return undefined;
  const parts = [
    l.rate &&
      `rate ${l.rate.requestsPerSecond}/s${l.rate.burst === undefined ? '' : ` burst ${l.rate.burst}`} per ${l.rateKey}`,
    l.maxConcurrency !== undefined ? `maxConcurrency ${l.maxConcurrency}` : undefined,
    l.timeoutSeconds !== undefined ? `timeout ${l.timeoutSeconds}s` : undefined,
    l.maxCallsPerSession !== undefined ? `maxCallsPerSession ${l.maxCallsPerSession}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? undefined : parts.join(', ');
}

/** The lines describing one rule, indented under its ToolPolicy/rule heading. */
export function ruleLines(policyName: string, mode: string, rule: BundleRule): string[] {
  const lines = [
    `${policyName}/${rule.name}${mode === 'Audit' ? '  (Audit mode: only counted as would-deny)' : ''}`,
  ];
  lines.push(`  who: ${subjectsText(rule)}`);
  if (rule.scopes?.length) lines.push(`  scopes: ${rule.scopes.join(' ')}`);
  if (rule.when !== undefined) lines.push(`  when: ${rule.when}`);
  for (const binding of rule.arguments ?? []) {
    lines.push(
      binding.mode === 'Force'
        ? `  argument ${binding.path} := ${binding.from} (Force: set whatever the caller sent)`
        : `  argument ${binding.path} must equal ${binding.from} (Require: refused otherwise)`,
    );
  }
  const limits = limitsText(rule);
  if (limits !== undefined) lines.push(`  limits: ${limits}`);
  if (rule.upstreamScopes?.length) lines.push(`  upstream scopes: ${rule.upstreamScopes.join(' ')}`);
  return lines;
}

const GLOB = /[*?]/;

/** Tools worth a section: --tool, else pinned, killed, and named (not globbed) in a rule. */
export function toolsToExplain(policy: LoadedPolicy, wanted: readonly string[] | undefined): string[] {
  if (wanted !== undefined && wanted.length > 0) return [...wanted];
  const names = new Set<string>();
  for (const pin of policy.bundle.spec.tools?.pins ?? []) names.add(pin.name);
  for (const tool of policy.bundle.kill.tools) names.add(tool);
  for (const p of policy.bundle.policies)
    for (const rule of p.rules) for (const tool of rule.tools) if (!GLOB.test(tool)) names.add(tool);
  return [...names].sort();
}

/** Rules whose tool patterns are globs: they reach tools the files do not name. */
export function globRules(policy: LoadedPolicy): string[] {
  return policy.bundle.policies.flatMap((p) =>
    p.rules
      .filter((rule) => rule.tools.some((tool) => GLOB.test(tool)))
      .map(
        (rule) =>
          `${p.name}/${rule.name} (${rule.effect}): ${rule.tools.filter((t) => GLOB.test(t)).join(', ')}`,
      ),
  );
}
