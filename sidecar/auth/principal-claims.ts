import type { Principal } from '../../policy/principal.ts';
import { invalidToken, type AuthFailure } from './failure.ts';
import type { AuthSettings } from './settings.ts';
import { grantedScopes } from './scopes.ts';

export type ClaimMapping = AuthSettings['claims'];
export type PrincipalResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly failure: AuthFailure };

/**
 * Maps verified claims to the three identities (user, agent, tenant) plus groups and scopes. Claim names
 * are exact top-level names: claim names may themselves contain dots (e.g. URI-style claims), so a
 * dotted path would be ambiguous. A claim that is present but malformed refuses the token rather than
 * being skipped, because skipping could attribute the call to a different identity.
 */
export function principalFromClaims(
  claims: Readonly<Record<string, unknown>>,
  mapping: ClaimMapping,
): PrincipalResult {
  const user = claims[mapping.user];
  if (!isIdentity(user)) return refuse(`user claim "${mapping.user}" is missing or not a non-empty string`);

  const agent = agentOf(claims, mapping.agent);
  if (typeof agent !== 'string') return refuse(agent.reason);

  let tenant: string | undefined;
  if (mapping.tenant !== undefined && claims[mapping.tenant] !== undefined) {
    const value = claims[mapping.tenant];
    if (!isIdentity(value)) return refuse(`tenant claim "${mapping.tenant}" is not a non-empty string`);
    tenant = value;
  }

  const principal: Principal = {
    user,
    agent,
    ...(tenant === undefined ? {} : { tenant }),
    groups: groupsOf(claims[mapping.groups]),
    scopes: grantedScopes(claims),
    claims,
  };
  return { ok: true, principal };
}

/**
 * The agent is the party acting for the user. With RFC 8693 delegation the current actor is act.sub
 * (nested act members are earlier actors in the chain); otherwise it is the OAuth client, from the
 * configured claim, then azp, then client_id.
 */
function agentOf(claims: Readonly<Record<string, unknown>>, agentClaim: string): string | { reason: string } {
  const { act } = claims;
  if (act !== undefined) {
    const actor =
      typeof act === 'object' && act !== null && !Array.isArray(act)
        ? (act as Record<string, unknown>).sub
        : undefined;
    return isIdentity(actor) ? actor : { reason: 'act claim has no non-empty string sub' };
  }
  for (const name of [agentClaim, 'azp', 'client_id']) {
    const value = claims[name];
    if (value === undefined) continue;
    return isIdentity(value) ? value : { reason: `agent claim "${name}" is not a non-empty string` };
  }
  return { reason: `agent claim "${agentClaim}" (or azp, client_id) is missing` };
}

function groupsOf(value: unknown): readonly string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) return value as string[];
  return [];
}

function isIdentity(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function refuse(reason: string): PrincipalResult {
  return { ok: false, failure: invalidToken(reason) };
}
