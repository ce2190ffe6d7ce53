import type { LoadedPolicy } from '../../policy/load.ts';
import type { ToolCall } from '../exchange.ts';

/** The scope of a minted token that grants no tool: initialize, tools/list, notifications, streams. */
export const SESSION_SCOPE = 'mcp:session';

/** The scope that lets the server container run one tool. */
export const toolScope = (tool: string) => `tool:${tool}`;

// RFC 6749 section 3.3 scope-token. A tool name outside it (a space above all) would turn one tool
// scope into several, so such a call gets no token at all.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * The scopes of the upstream token for one forwarded request: `tool:<name>` for each allowed tools/call
 * in it (one, except in a batch), plus the downstream scopes the allowing rule declares
 * (`upstreamScopes`). A request without a tool call gets none (see SESSION_SCOPE for Minted).
 */
export function requestScopes(
  policy: LoadedPolicy,
  calls: readonly ToolCall[],
): string[] | { readonly refused: string } {
  const scopes = new Set<string>();
  for (const call of calls) {
    const decision = call.verdict?.decision;
    if (!decision?.allowed) continue;
    const scope = toolScope(call.tool);
    if (!SCOPE_TOKEN.test(scope) || scope.length > 256)
      return { refused: 'the tool name cannot be expressed as an OAuth scope' };
    scopes.add(scope);
    const rule = policy.bundle.policies
      .find((p) => p.name === decision.rule.policy)
      ?.rules.find((r) => r.name === decision.rule.rule);
    for (const scope of rule?.upstreamScopes ?? []) scopes.add(scope);
  }
  return [...scopes];
}
