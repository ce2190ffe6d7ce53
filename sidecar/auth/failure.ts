/**
 * Why a request was not authenticated. The code is stable (it picks the HTTP status and the
 * WWW-Authenticate challenge); the reason is for audit and operators and never contains the token.
 * auth_unavailable is not a verdict on the token: the sidecar could not check it (no signing keys), a
 * server-side fault the caller may retry; its reason is what the caller sees and detail (the identity
 * provider's URL, the TLS or network error) goes to logs and audit only.
 */
export interface AuthFailure {
  readonly code: 'missing_token' | 'invalid_token' | 'insufficient_scope' | 'auth_unavailable';
  readonly reason: string;
  readonly missingScopes?: readonly string[];
  /** For logs and audit only, never the answer (auth_unavailable). */
  readonly detail?: string;
  /** Seconds until checking the token may work again (auth_unavailable). */
  readonly retryAfterSeconds?: number;
}

/** What a caller is told when the keys are unavailable: nothing about where they come from or why. */
export const AUTH_UNAVAILABLE_REASON =
  'the token cannot be verified right now: the signing keys are unavailable; retry later';

export function authUnavailable(detail: string, retryAfterSeconds: number): AuthFailure {
  return { code: 'auth_unavailable', reason: AUTH_UNAVAILABLE_REASON, detail, retryAfterSeconds };
}

export function missingToken(): AuthFailure {
  return MISSING_TOKEN;
}

export function invalidToken(reason: string): AuthFailure {
  return { code: 'invalid_token', reason };
}

export function insufficientScope(missingScopes: readonly string[]): AuthFailure {
  return {
    code: 'insufficient_scope',
    reason: `token lacks required scopes: ${missingScopes.join(' ')}`,
    missingScopes,
  };
}

const MISSING_TOKEN: AuthFailure = Object.freeze({
  code: 'missing_token',
  reason: 'no bearer token in the Authorization header',
});
