import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { reject, type Rejection } from '../reject.ts';
import { writeJson } from '../respond.ts';
import { ANSWERED, type StageOutcome } from '../stages/stage.ts';
import { CONTRACT_META_KEY, contractIdentity, type CallContract } from './call-contract.ts';
import type { ObservedTool } from './observed-tools.ts';
import type { ToolContracts } from './tool-contracts.ts';

/**
 * The check-contracts stage: every allowed tools/call meets the tool's contract before it is forwarded.
 *
 *   pinning Disabled nothing (one property read).
 *   pinning Enforce the table must be current (read the list first if a list_changed passed or nothing
 *                   was seen yet); a tool that is not Pinned — drifted, unpinned, ambiguous, or not
 *                   published at all — is refused with tool_quarantined; the (bound) arguments must
 *                   match the pinned inputSchema, else the call is answered here with an isError result
 *                   and never reaches the server.
 *   pinning Record  the same checks, audited and counted but never enforced; never waits for the list.
 *
 * The hot path for a pinned tool with valid arguments is one map lookup and one compiled validator.
 */
export function checkContracts(
  exchange: Exchange,
  context: SidecarContext,
): StageOutcome | Promise<StageOutcome> {
  const contracts = context.contracts;
  if (contracts.mode === 'Disabled') return undefined;
  for (const view of exchange.messages) {
    if (view.method === 'tools/list' && view.kind === 'request') {
      contracts.noteListRequest(exchange);
      break;
    }
  }
  if (exchange.calls.length === 0) return undefined;
  if (contracts.fresh) return decide(exchange, contracts);
  if (contracts.mode === 'Record') {
    contracts.refreshInBackground();
    return decide(exchange, contracts);
  }
  return contracts
    .ensureFresh()
    .then((fresh) =>
      fresh
        ? decide(exchange, contracts)
        : reject(
            'upstream_unavailable',
            `cannot read the tool list of the server to check tool contracts: ${contracts.lastFailure ?? 'it keeps changing'}`,
            { retryAfter: 1 },
          ),
    );
}

function decide(exchange: Exchange, contracts: ToolContracts): StageOutcome {
  const enforce = contracts.mode === 'Enforce';
  let refusal: Rejection | undefined;
  let invalid: ToolCall | undefined;
  for (const call of exchange.calls) {
    const tool = contracts.get(call.tool);
    const contract: CallContract = tool ? { enforce, tool } : { enforce };
    call.contract = contract;
    if (enforce && tool?.state !== 'Pinned') {
      const reason = quarantineReason(call.tool, tool);
      contract.finding = { code: 'tool_quarantined', reason, enforced: true };
      refusal ??= reject('tool_quarantined', reason, {
        ...(exchange.policy ? { policyHash: exchange.policy.hash } : {}),
        tool: contractIdentity(call.tool, tool),
      });
      continue;
    }
    const check = tool?.input?.check;
    if (check === undefined) continue; // Record: unpublished tool or a schema that cannot be compiled
    // The arguments the server would receive: after the policy's bindings.
    const decision = call.verdict?.decision;
    const verdict = check(decision?.allowed ? decision.args : call.args);
    if (verdict.ok) continue;
    contracts.metrics.violations.inc({ direction: 'input', enforced: String(enforce) });
    contract.finding = {
      code: 'invalid_arguments',
      reason: invalidArgumentsReason(call.tool, tool!, verdict.errors ?? []),
      enforced: enforce,
      errors: verdict.errors ?? [],
    };
    if (enforce) invalid ??= call;
  }
  if (refusal) {
    // As authorize-calls: a batch is all or nothing, so a quarantined call refuses the whole batch.
    if (!exchange.isBatch || exchange.calls.length === 1) return refusal;
    const { code: _code, reason, ...details } = refusal;
    return reject('batch_refused', `batch refused: ${reason}`, details);
  }
  if (invalid === undefined) return undefined;
  const finding = invalid.contract!.finding!;
  // An isError result answers one call; a body with more in it is refused whole instead.
  if (exchange.isBatch || exchange.messages.length !== 1)
    return reject('batch_refused', `batch refused: ${finding.reason}`, {
      tool: contractIdentity(invalid.tool, invalid.contract!.tool),
    });
  answerWithError(exchange, invalid, finding.reason, finding.errors ?? []);
  return ANSWERED;
}

function quarantineReason(name: string, tool: ObservedTool | undefined): string {
  if (tool === undefined)
    return (
      `tool ${name} is not in the tool list the server publishes; under pinning Enforce only published, ` +
      'pinned tools can be called'
    );
  if (tool.problem !== undefined) return `tool ${name} is quarantined: ${tool.problemDetail}`;
  if (tool.pin === 'drifted')
    return (
      `tool ${name} is quarantined: its definition changed (digest ${tool.digest}, pinned ${tool.pinnedDigest}); ` +
      'it stays refused until the new definition is reviewed and pinned'
    );
  return `tool ${name} is quarantined: it is not pinned (digest ${tool.digest})`;
}

function version(tool: ObservedTool): string {
  return `digest ${tool.digest}${tool.schemaVersion !== undefined ? `, schema version ${tool.schemaVersion}` : ''}`;
}

function invalidArgumentsReason(name: string, tool: ObservedTool, errors: readonly string[]): string {
  return (
    `the arguments do not match the input schema of tool ${name} (${version(tool)}), so the call was not ` +
    `forwarded: ${errors.join('; ')}`
  );
}

/** A tool result with isError (MCP: input validation errors are tool execution errors, not protocol errors). */
export function contractErrorResult(
  code: 'invalid_arguments' | 'invalid_output',
  call: ToolCall,
  text: string,
  errors: readonly string[],
  requestId: string,
): Record<string, unknown> {
  return {
    content: [{ type: 'text', text }],
    isError: true,
    _meta: {
      [CONTRACT_META_KEY]: {
        code,
        tool: contractIdentity(call.tool, call.contract?.tool),
        errors,
        requestId,
      },
    },
  };
}

function answerWithError(
  exchange: Exchange,
  call: ToolCall,
  reason: string,
  errors: readonly string[],
): void {
  const result = contractErrorResult(
    'invalid_arguments',
    call,
    `Portcullis: ${reason}`,
    errors,
    exchange.requestId,
  );
  const body = JSON.stringify({ jsonrpc: '2.0', id: call.id, result });
  writeJson(
    exchange.response,
    200,
    {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-request-id': exchange.requestId,
    },
    body,
  );
}

/**
 * Checks a tools/call result against the outputSchema of the definition the call was checked against.
 * A result without structuredContent, or with one that does not match, becomes an isError result under
 * Enforce (never a malformed payload passed on); under Record it is passed on and the finding audited.
 */
export function checkToolResult(
  contracts: ToolContracts,
  call: ToolCall,
  message: Record<string, unknown>,
  requestId: string,
): Record<string, unknown> {
  const contract = call.contract;
  const check = contract?.tool?.output?.check;
  if (check === undefined || !('result' in message)) return message;
  const result = message['result'];
  if (typeof result !== 'object' || result === null || (result as { isError?: unknown }).isError === true)
    return message;
  const structured = (result as { structuredContent?: unknown }).structuredContent;
  const verdict =
    structured === undefined
      ? {
          ok: false,
          errors: ['(result): the tool declares an outputSchema but returned no structuredContent'],
        }
      : check(structured);
  if (verdict.ok) return message;
  const errors = verdict.errors ?? [];
  contracts.metrics.violations.inc({ direction: 'output', enforced: String(contract!.enforce) });
  const reason =
    `the result of tool ${call.tool} does not match its output schema (${version(contract!.tool!)}): ` +
    errors.join('; ');
  contract!.finding = { code: 'invalid_output', reason, enforced: contract!.enforce, errors };
  if (!contract!.enforce) return message;
  return {
    ...message,
    result: contractErrorResult(
      'invalid_output',
      call,
      `Portcullis: ${reason}. The server's result was withheld.`,
      errors,
      requestId,
    ),
  };
}
