import type { AuthFailure } from './failure.ts';

/**
 * The WWW-Authenticate value for a refused request (RFC 6750 section 3, RFC 9728 section 5.1). A request
 * without a token gets no error code (RFC 6750 says it should not), just where to learn how to get one.
 */
export function wwwAuthenticate(failure: AuthFailure, resourceMetadataUrl: string): string {
  const params: string[] = [];
  if (failure.code === 'invalid_token') params.push('error="invalid_token"');
  if (failure.code === 'insufficient_scope') {
    params.push('error="insufficient_scope"');
    const missing = failure.missingScopes ?? [];
    if (missing.length > 0) params.push(`scope=${quoted(missing.join(' '))}`);
  }
  params.push(`resource_metadata=${quoted(resourceMetadataUrl)}`);
  return `Bearer ${params.join(', ')}`;
}

/**
 * An RFC 9110 quoted-string. Backslash and quote are escaped; anything outside printable ASCII (CR and
 * LF above all, which would split the header) is percent-encoded, so no input can break out of the value.
 */
function quoted(value: string): string {
  const safe = value
    .replace(/[^\x20-\x7e]/gu, (ch) => (ch.isWellFormed() ? encodeURIComponent(ch) : '%EF%BF%BD'))
    .replace(/["\\]/g, '\\$&');
  return `"${safe}"`;
}
