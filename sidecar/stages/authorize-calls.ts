import { authorize } from '../../policy/authorize.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * Decides every tools/call in the body. A batch is all or nothing: one refused element refuses the whole
 * batch, so a forbidden call cannot ride along with allowed ones. Allowed calls carry their bound
 * arguments into the forwarded body.
 */
export function authorizeCalls(exchange: Exchange, _context: SidecarContext): StageResult {
  const policy = exchange.policy!;
  const principal = exchange.principal!;
  let refusal: StageResult;
  for (const call of exchange.calls) {
    const verdict = authorize(policy, { principal, tool: call.tool, args: call.args });
    call.verdict = verdict;
    const { decision } = verdict;
    if (!decision.allowed) {
      refusal ??= reject(decision.code, decision.reason, {
        ...(decision.publicReason !== undefined ? { publicReason: decision.publicReason } : {}),
        policyHash: decision.policyHash,
        ...(decision.rule ? { rule: decision.rule } : {}),
        ...(decision.missingScopes ? { missingScopes: decision.missingScopes } : {}),
      });
      continue;
    }
    if (decision.args !== call.args) {
      const view = exchange.messages[call.index]!;
      const params = (view.message['params'] ?? {}) as Record<string, unknown>;
      exchange.messages[call.index] = {
        ...view,
        message: { ...view.message, params: { ...params, arguments: decision.args } },
      };
    }
  }
  if (refusal && exchange.isBatch && exchange.calls.length > 1) {
    const { code: _code, reason, publicReason, ...details } = refusal;
    return reject('batch_refused', `batch refused: ${reason}`, {
      ...details,
      ...(publicReason !== undefined ? { publicReason: `batch refused: ${publicReason}` } : {}),
    });
  }
  return refusal;
}
