import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { authUnavailable, invalidToken, type AuthFailure } from './failure.ts';
import { KeysUnavailable } from './remote-key-set.ts';
import { RefusedHeader } from './header-policy.ts';
import { strictTokenJsonFault } from './token-json.ts';

export interface TokenVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Accept an aud array that names other resources besides ours (spec.auth.allowSharedAudience). */
  readonly allowSharedAudience: boolean;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  /** Must already include the header policy (see withHeaderPolicy). */
  readonly keys: JWTVerifyGetKey;
  readonly clock: () => number;
}

export type VerifiedClaims = JWTPayload & { readonly exp: number };
export type Verification =
  | { readonly ok: true; readonly claims: VerifiedClaims }
  | { readonly ok: false; readonly failure: AuthFailure };

/**
 * Checks the JSON of header and claims (strict), then signature, issuer, audience, algorithm and time of a
 * JWT access token. Never throws.
 */
export type TokenVerifier = (token: string) => Promise<Verification>;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { issuer, audience, keys, clock } = options;
  const algorithms = [...options.algorithms];
  const skewSeconds = options.clockSkewSeconds;
  return async (token) => {
    // Before any key lookup: a token that two JSON readers could read differently is never verified.
    const fault = strictTokenJsonFault(token);
    if (fault !== undefined) return { ok: false, failure: invalidToken(fault) };
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer,
        audience,
        algorithms,
        clockTolerance: options.clockSkewSeconds,
        currentDate: new Date(clock()),
        // An access token without an expiry would be valid forever; iss and aud are required by the options above.
        requiredClaims: ['exp'],
      });
      const refused =
        futureIssue(payload, clock() / 1000, skewSeconds) ??
        (options.allowSharedAudience ? undefined : sharedAudience(payload, audience));
      if (refused !== undefined) return { ok: false, failure: invalidToken(refused) };
      return { ok: true, claims: payload as VerifiedClaims };
    } catch (error) {
      // No keys is no verdict on the token: a retryable fault of ours, never invalid_token (clients would
      // throw the token away and sign in again, in a loop, while the identity provider is unreachable).
      if (error instanceof KeysUnavailable)
        return { ok: false, failure: authUnavailable(error.message, error.retryAfterSeconds) };
      return { ok: false, failure: invalidToken(reasonFor(error)) };
    }
  };
}

/**
 * jose checks iat only when a maximum token age is set. A token issued in the future beyond the skew was
 * minted by a clock (or a forger) we should not trust, and would outlive its stated lifetime here; the
 * bound is the same as for nbf (equal to now + skew is still accepted).
 */
function futureIssue(payload: JWTPayload, nowSeconds: number, skewSeconds: number): string | undefined {
  const { iat } = payload;
  if (iat === undefined) return undefined;
  // jose has already refused a non-number iat; kept here so this check stands on its own.
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'token claims rejected: "iat" is not a number';
  return iat > nowSeconds + skewSeconds
    ? 'token claims rejected: "iat" is in the future beyond the allowed clock skew'
    : undefined;
}

/**
 * jose accepts an aud array that contains ours among others. Such a token is valid at every resource it
 * names by design, so any of them (or whoever compromises one) can replay it here: refused unless the
 * server opts in. The only accepted shapes are our audience itself and an array of exactly it.
 */
function sharedAudience(payload: JWTPayload, audience: string): string | undefined {
  const { aud } = payload;
  if (!Array.isArray(aud) || (aud.length === 1 && aud[0] === audience)) return undefined;
  return 'token claims rejected: "aud" must name this resource alone (spec.auth.allowSharedAudience is off)';
}

/**
 * Words for the audit record. They never quote the token or values taken from it (alg, kid, claims),
 * since those are attacker-chosen text.
 */
function reasonFor(error: unknown): string {
  if (error instanceof RefusedHeader) return error.message;
  if (!(error instanceof errors.JOSEError)) {
    return `token verification failed: ${error instanceof Error ? error.message : 'unknown error'}`;
  }
  switch (error.code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `token claims rejected: ${error.message}`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'token algorithm is not among the configured algorithms';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key in the JWKS matches the token (unknown or rotated-out kid)';
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'token names no kid and several JWKS keys match';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'token signature is invalid';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return `malformed token: ${error.message}`;
    default:
      return `token verification failed: ${error.message}`;
  }
}
