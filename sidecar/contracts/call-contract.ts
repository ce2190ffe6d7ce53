import type { ToolCall } from '../exchange.ts';
import type { ObservedTool } from './observed-tools.ts';

/**
 * What the contract check found for one tools/call, kept on the call so the reply handler validates the
 * result against the same definition the arguments were checked against, and the audit event can name
 * the digest.
 */
export type ContractCode = 'tool_quarantined' | 'invalid_arguments' | 'invalid_output';

export interface ContractFinding {
  readonly code: ContractCode;
  readonly reason: string;
  /** False under pinning Record: audited and counted, nothing refused. */
  readonly enforced: boolean;
  /** Schema errors, for invalid_arguments and invalid_output. */
  readonly errors?: readonly string[];
}

export interface CallContract {
  /** The definition the call was checked against; absent for a tool the server does not publish. */
  readonly tool?: ObservedTool;
  readonly enforce: boolean;
  finding?: ContractFinding;
}

/** The `_meta` key of results the sidecar writes (an error result in place of the server's). */
export const CONTRACT_META_KEY = 'portcullis.dev/contract';

/** What an agent needs to tell a contract change from a failure: the tool's digest and schema version. */
export function contractIdentity(name: string, tool: ObservedTool | undefined) {
  return {
    name,
    ...(tool ? { digest: tool.digest, state: tool.state } : {}),
    ...(tool?.schemaVersion !== undefined ? { schemaVersion: tool.schemaVersion } : {}),
  };
}

/** Audit fields for a call the contract check touched (merged last into the call's audit event). */
export function contractAuditFields(call: ToolCall, decision: string) {
  const contract = call.contract;
  if (contract === undefined) return {};
  const digest = contract.tool ? { toolDigest: contract.tool.digest } : {};
  const finding = contract.finding;
  if (finding === undefined) return digest;
  const found = { ...digest, code: finding.code, reason: finding.reason };
  // Record: the finding is evidence on an otherwise allowed call; it never hides another decision.
  if (!finding.enforced) {
    if (decision !== 'allowed') return digest;
    return finding.code === 'invalid_arguments' ? { ...found, decision: 'would_deny' as const } : found;
  }
  if (finding.code === 'tool_quarantined')
    return { ...found, decision: 'quarantined' as const, outcome: 'refused' as const };
  if (finding.code === 'invalid_arguments')
    return { ...found, decision: 'denied' as const, outcome: 'refused' as const };
  return { ...found, decision: 'errored' as const, outcome: 'tool_error' as const };
}
