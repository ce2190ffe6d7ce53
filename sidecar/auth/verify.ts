import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { invalidToken, type AuthFailure } from './failure.ts';
import { KeysUnavailable } from './remote-key-set.ts';
import { RefusedHeader } from './header-policy.ts';

export interface TokenVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
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

/** Checks signature, issuer, audience, algorithm and time of a JWT access token. Never throws. */
export type TokenVerifier = (token: string) => Promise<Verification>;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { issuer, audience, keys, clock } = options;
  const algorithms = [...options.algorithms];
  return async (token) => {
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
      return { ok: true, claims: payload as VerifiedClaims };
    } catch (error) {
      return { ok: false, failure: invalidToken(reasonFor(error)) };
    }
  };
}

/**
 * Words for the audit record. They never quote the token or values taken from it (alg, kid, claims),
 * since those are attacker-chosen text.
 */
function reasonFor(error: unknown): string {
  if (error instanceof KeysUnavailable || error instanceof RefusedHeader) return error.message;
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
