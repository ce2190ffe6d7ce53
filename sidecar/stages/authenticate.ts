import { checkCredentialLocation } from '../auth/credential-location.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import { SubjectToken } from '../upstream-identity/subject-token.ts';
import type { StageResult } from './stage.ts';

/**
 * Verifies the bearer token and records who is calling. The token itself goes no further: later stages
 * see only the principal, and the Authorization header is never forwarded. (In TokenExchange mode it
 * is kept sealed as the exchange's subject_token, which only the token exchanger can open.)
 */
export async function authenticate(exchange: Exchange, context: SidecarContext): Promise<StageResult> {
  const policy = context.policy.current;
  if (policy === undefined) return context.policy.gate() as StageResult;
  // One token, in one place: a second Authorization header or a query token is refused before either is read.
  const location = checkCredentialLocation(exchange.request.rawHeaders, exchange.request.url ?? '/');
  if (!location.ok) return reject(location.code, location.reason);
  const result = await context.authenticatorFor(policy).authenticate(exchange.headers.authorization);
  if (!result.ok) {
    const { failure } = result;
    return reject(failure.code, failure.reason, {
      ...(failure.missingScopes ? { missingScopes: failure.missingScopes } : {}),
      ...(failure.detail !== undefined ? { detail: failure.detail } : {}),
      ...(failure.retryAfterSeconds !== undefined ? { retryAfter: failure.retryAfterSeconds } : {}),
    });
  }
  exchange.principal = result.principal;
  if (result.tokenId !== undefined) exchange.tokenId = result.tokenId;
  // Token exchange needs the token as its subject_token: kept sealed, for that and nothing else.
  if (policy.bundle.spec.upstreamAuth.mode === 'TokenExchange')
    exchange.subjectToken = SubjectToken.seal(exchange.headers.authorization, result.expiresAt);
  return undefined;
}
