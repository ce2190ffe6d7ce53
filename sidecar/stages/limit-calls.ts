import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import type { LimitWaiting } from '../limits/call-limiter.ts';
import { killedSinceGate } from './killed-since-gate.ts';
import type { StageResult } from './stage.ts';

/**
 * The blast-radius limits on the tool calls policy allowed: call budgets, rates, then concurrency slots
 * (sidecar/limits/). Slots taken here are recorded on the exchange and released by the pipeline when
 * the exchange ends, whatever ended it (answer, timeout, upstream error, client gone), exactly once.
 * A call that must wait for a slot leaves the queue as soon as its client goes away.
 */
export function limitCalls(exchange: Exchange, context: SidecarContext): StageResult | Promise<StageResult> {
  if (exchange.calls.length === 0) return undefined;
  const outcome = context.limits.admit({
    policy: exchange.policy!,
    principal: exchange.principal!,
    sessionId: exchange.sessionId,
    calls: exchange.calls,
  });
  if ('code' in outcome) return outcome;
  if (!outcome.waiting) {
    exchange.slots = outcome;
    return undefined;
  }
  return waitForSlots(exchange, context, outcome);
}

async function waitForSlots(
  exchange: Exchange,
  context: SidecarContext,
  waiting: LimitWaiting,
): Promise<StageResult> {
  const { response } = exchange;
  let gone = false;
  const onClientGone = () => {
    gone = true;
    waiting.cancel();
  };
  response.once('close', onClientGone);
  // Gone before we listened: leave the queue now.
  if (response.destroyed) onClientGone();
  let settled: Awaited<LimitWaiting['result']>;
  try {
    settled = await waiting.result;
  } finally {
    response.off('close', onClientGone);
  }
  if ('code' in settled) {
    if (gone) for (const call of exchange.calls) call.outcome = 'cancelled';
    return settled;
  }
  exchange.slots = settled;
  return killedSinceGate(exchange, context, 'waited for a slot');
}
