import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * Verifies the bearer token and records who is calling. The token itself goes no further: later stages
 * see only the principal, and the Authorization header is never forwarded.
 */
export async function authenticate(exchange: Exchange, context: SidecarContext): Promise<StageResult> {
  const policy = context.policy.current;
  if (policy === undefined) return context.policy.gate() as StageResult;
  const result = await context.authenticatorFor(policy).authenticate(exchange.headers.authorization);
  if (!result.ok) {
    const { failure } = result;
    return reject(
      failure.code,
      failure.reason,
      failure.missingScopes ? { missingScopes: failure.missingScopes } : {},
    );
  }
  exchange.principal = result.principal;
  if (result.tokenId !== undefined) exchange.tokenId = result.tokenId;
  return undefined;
}
