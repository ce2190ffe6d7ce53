/**
 * Why a request was not authenticated. The code is stable (it picks the HTTP status and the
 * WWW-Authenticate challenge); the reason is for audit and operators and never contains the token.
 */
export interface AuthFailure {
  readonly code: 'missing_token' | 'invalid_token' | 'insufficient_scope';
  readonly reason: string;
  readonly missingScopes?: readonly string[];
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
