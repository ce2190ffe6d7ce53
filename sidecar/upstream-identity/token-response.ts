import { hash } from 'node:crypto';

/**
 * Reading an RFC 8693 token exchange response (section 2.2) strictly: anything the sidecar would have to
 * guess about is junk, and junk fails closed. Pure: no I/O, the clock is passed in.
 */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

// RFC 6750 b64token: the token goes into an Authorization header, so CR, LF, spaces and commas are out.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 16 * 1024;
// RFC 6749 section 5.2: the error code alphabet. Anything else is not quoted.
const ERROR_CODE = /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/;
const PRINTABLE_ID = /^[\x21-\x7E]{1,256}$/;

export interface IssuedToken {
  readonly token: string;
  /** jti of a JWT, else a digest of the token: for audit, never the token. */
  readonly tokenId: string;
  /** Epoch ms; undefined when the response says nothing (not cached). */
  readonly expiresAt: number | undefined;
  readonly scope?: string;
}

export type TokenResponse =
  | { readonly ok: true; readonly issued: IssuedToken }
  | { readonly ok: false; readonly reason: string; readonly retryable: boolean };

export function readTokenResponse(status: number, body: unknown, now: number): TokenResponse {
  if (status !== 200) {
    const error = isObject(body) ? body['error'] : undefined;
    return {
      ok: false,
      reason:
        typeof error === 'string' && ERROR_CODE.test(error)
          ? `the identity provider refused the token exchange: ${error}`
          : `the identity provider answered the token exchange with HTTP ${status}`,
      retryable: status >= 500 || status === 429,
    };
  }
  const junk = (what: string): TokenResponse => ({
    ok: false,
    reason: `the identity provider answered the token exchange with an invalid response: ${what}`,
    retryable: true,
  });
  if (!isObject(body)) return junk('not a JSON object');
  const { access_token: token, token_type: tokenType, issued_token_type: issued, expires_in } = body;
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token))
    return junk('access_token is missing or not a bearer token');
  if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')
    return junk('token_type is not Bearer');
  if (issued !== undefined && issued !== ACCESS_TOKEN_TYPE && issued !== JWT_TOKEN_TYPE)
    return junk('issued_token_type is not an access token');
  if (
    expires_in !== undefined &&
    (typeof expires_in !== 'number' || !Number.isFinite(expires_in) || expires_in <= 0)
  )
    return junk('expires_in is not a positive number');
  const claims = jwtPayload(token);
  const exp = typeof claims?.['exp'] === 'number' ? claims['exp'] * 1000 : undefined;
  if (exp !== undefined && exp <= now) return junk('the token has already expired');
  const fromExpiresIn = typeof expires_in === 'number' ? now + expires_in * 1000 : undefined;
  const expiresAt =
    fromExpiresIn !== undefined && exp !== undefined ? Math.min(fromExpiresIn, exp) : (fromExpiresIn ?? exp);
  const jti = claims?.['jti'];
  return {
    ok: true,
    issued: {
      token,
      tokenId:
        typeof jti === 'string' && PRINTABLE_ID.test(jti) ? jti : `sha256:${hash('sha256', token, 'hex')}`,
      expiresAt,
      ...(typeof body['scope'] === 'string' ? { scope: body['scope'] } : {}),
    },
  };
}

/**
 * The payload of a JWT, decoded without verification: the server container verifies the token; the
 * sidecar reads exp (when to stop reusing it) and jti (what to audit). Not a JWT: undefined.
 */
function jwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return isObject(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
