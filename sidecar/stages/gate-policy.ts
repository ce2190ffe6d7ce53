import { killTexts } from '../../policy/authorize.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * Pins the policy this request is decided by, or refuses when none is usable (failurePolicy). A killed
 * server refuses everything here, not only tool calls: no listing, no streams, no new sessions.
 */
export function gatePolicy(exchange: Exchange, context: SidecarContext): StageResult {
  const gated = context.policy.gate();
  if ('code' in gated) return gated;
  exchange.policy = gated;
  if (gated.serverKill) {
    // Any tool name: a whole-server switch covers them all. The caller sees no name of who engaged it.
    const text = killTexts(gated, '')!;
    return reject('killed', text.full, { publicReason: text.public, policyHash: gated.hash });
  }
  return undefined;
}
