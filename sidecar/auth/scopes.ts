/**
 * Scopes granted by a token: the space-separated `scope` claim (RFC 8693 section 4.2, RFC 9068), or else
 * `scp`, which some servers send as an array (Okta) and others as a space-separated string (Entra ID).
 */
export function grantedScopes(claims: Readonly<Record<string, unknown>>): string[] {
  const { scope, scp } = claims;
  if (typeof scope === 'string') return splitScopes(scope);
  if (typeof scp === 'string') return splitScopes(scp);
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

/** The required scopes the token lacks, in the order they were required. */
export function missingScopes(required: readonly string[], granted: readonly string[]): string[] {
  if (required.length === 0) return [];
  const have = new Set(granted);
  return required.filter((scope) => !have.has(scope));
}

function splitScopes(value: string): string[] {
  return value.split(' ').filter((s) => s !== '');
}
