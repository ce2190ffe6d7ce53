import { isKilled, subjectMatches } from './authorize.ts';
import type { LoadedPolicy } from './load.ts';
import type { Principal } from './principal.ts';

/**
 * Whether tools/list shows a tool to this caller: nobody sees a tool they may not call. A tool is shown
 * when it is not killed, no unconditional Deny rule refuses it, and some Allow rule admits the caller
 * with the scopes they hold. Conditions and bindings depend on arguments, so they do not hide a tool.
 */
export function isToolVisible(policy: LoadedPolicy, principal: Principal, tool: string): boolean {
  if (isKilled(policy, tool)) return false;
  const applies = (rule: (typeof policy.allowRules)[number]) =>
    !rule.shadow && rule.matchesTool(tool) && subjectMatches(rule, principal);
  if (policy.denyRules.some((rule) => applies(rule) && rule.condition === undefined)) return false;
  return policy.allowRules.some(
    (rule) => applies(rule) && rule.scopes.every((s) => principal.scopes.includes(s)),
  );
}
