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
  const kill = gated.serverKill;
  if (kill) {
    return reject(
      'killed',
      `kill switch on ${kill.source} ${kill.name}${kill.reason ? `: ${kill.reason}` : ''}`,
      {
        policyHash: gated.hash,
      },
    );
  }
  return undefined;
}
