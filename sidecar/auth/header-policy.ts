import type { JWTVerifyGetKey } from 'jose';

/** The token's JOSE header asks for something we refuse; verification fails with this reason. */
export class RefusedHeader extends Error {
  override readonly name = 'RefusedHeader';
}

// Headers that tell the verifier where to find the key. Honouring any of them lets the token pick its
// own key, so a token carrying one is refused outright: keys come only from the configured JWKS, and no
// mainstream authorization server puts these on access tokens. (x5t and x5t#S256 are mere hints: ignored.)
const KEY_LOCATION_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

// Access tokens are typed "at+jwt" (RFC 9068) or, by older servers, "JWT" or not at all. Anything else
// (dpop+jwt, logout+jwt, secevent+jwt, ...) is a JWT made for another purpose that must not be replayed
// here as an access token. Compared case-insensitively, with the optional "application/" prefix (RFC 7515 4.1.9).
const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt']);

/** Refuses a header that names its own key or declares a non-access-token type; returns nothing when fine. */
export function checkHeader(header: Readonly<Record<string, unknown>>): void {
  for (const name of KEY_LOCATION_HEADERS) {
    if (Object.hasOwn(header, name)) throw new RefusedHeader(`token header "${name}" is not accepted`);
  }
  const { typ } = header;
  if (typ === undefined) return;
  if (typeof typ !== 'string' || !ACCESS_TOKEN_TYPES.has(typ.toLowerCase().replace(/^application\//, ''))) {
    throw new RefusedHeader('token "typ" is not an access token type (expected at+jwt or JWT)');
  }
}

/** Wraps a key resolver so the header is checked before any key is looked up (or fetched). */
export function withHeaderPolicy(resolve: JWTVerifyGetKey): JWTVerifyGetKey {
  return (header, token) => {
    checkHeader(header);
    return resolve(header, token);
  };
}
