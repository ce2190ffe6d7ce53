import { isKilled } from '../../policy/authorize.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject, type Rejection } from '../reject.ts';

/**
 * A kill switch engaged after the gate read the policy covers the call now, and it must not reach the
 * server. Between authorize-calls and the upstream request a call can wait: for a concurrency slot, for
 * its decision to reach the disk (Strict), for its upstream credential (a token exchange is a round trip
 * to the identity provider; an RSA signature runs off the event loop). A call that is already running is
 * cancelled by the kill switch (start.ts, stopKilledCalls); one still waiting is refused here.
 *
 * Kill switches arrive as a new policy object, so the policy the gate read means nothing has changed, and
 * the check costs one comparison on the common path.
 */
export function killedSinceGate(
  exchange: Exchange,
  context: SidecarContext,
  waiting: string,
): Rejection | undefined {
  const policy = context.policy.current;
  if (policy === undefined || policy === exchange.policy) return undefined;
  const killed = exchange.calls.find((call) => isKilled(policy, call.tool));
  if (killed === undefined) return undefined;
  return reject('killed', `a kill switch covering ${killed.tool} was engaged while the call ${waiting}`, {
    policyHash: policy.hash,
  });
}
