import { invalidToken, missingToken, type AuthFailure } from './failure.ts';

/** Larger headers are refused before any parsing; real access tokens are a few KiB at most. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;

// RFC 6750 section 2.1: "Bearer" 1*SP b64token, where b64token is the token68 alphabet. The scheme is
// case-insensitive (RFC 9110 section 11.1). One token only: a comma, a second token or any other
// whitespace does not match, so there is no "which of the two tokens did we check" ambiguity.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export type BearerToken =
  { readonly ok: true; readonly token: string } | { readonly ok: false; readonly failure: AuthFailure };

/** Extracts the bearer token from an Authorization header value; anything else is refused. */
export function bearerToken(authorization: string | undefined): BearerToken {
  if (authorization === undefined || authorization === '') return { ok: false, failure: missingToken() };
  if (typeof authorization !== 'string')
    return { ok: false, failure: invalidToken('Authorization header is not a string') };
  if (authorization.length > MAX_AUTHORIZATION_BYTES) {
    return {
      ok: false,
      failure: invalidToken(`Authorization header longer than ${MAX_AUTHORIZATION_BYTES} bytes`),
    };
  }
  const match = BEARER.exec(authorization);
  if (match?.[1] === undefined) {
    return {
      ok: false,
      failure: invalidToken('Authorization header is not "Bearer <token>" with a single token'),
    };
  }
  return { ok: true, token: match[1] };
}
