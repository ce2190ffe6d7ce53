import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import type { Rejection } from '../reject.ts';

/**
 * One step of the request path. It reads what earlier stages recorded on the exchange, records its own
 * findings, and either lets the request continue (undefined) or refuses it with a typed Rejection.
 * Stages never write the response except `forward`, the last one, and a stage that answers the request
 * itself and returns ANSWERED (check-contracts: an isError tool result for invalid arguments).
 */
export type StageResult = Rejection | undefined;
export const ANSWERED = 'answered';
export type StageOutcome = StageResult | typeof ANSWERED;
export type Stage = (exchange: Exchange, context: SidecarContext) => StageOutcome | Promise<StageOutcome>;
