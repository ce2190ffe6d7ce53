/**
 * Denials are values: every refusal carries a stable code, a reason a person can read, and the policy hash
 * that decided it. The sidecar maps codes to JSON-RPC errors and HTTP statuses in one table.
 */
export type DenialCode =
  | 'killed'
  | 'denied_by_rule'
  | 'no_matching_rule'
  | 'insufficient_scope'
  | 'argument_binding'
  | 'condition_error';

export interface RuleRef {
  readonly policy: string;
  readonly rule: string;
}

export interface Denial {
  readonly allowed: false;
  readonly code: DenialCode;
  readonly reason: string;
  /**
   * What the caller may see instead of `reason`, when the two differ (kill switches: `reason` is the full
   * record, with who engaged it, for audit; this is bounded and names nobody).
   */
  readonly publicReason?: string;
  readonly policyHash: string;
  readonly rule?: RuleRef;
  /** For insufficient_scope: the scopes the caller lacks. */
  readonly missingScopes?: readonly string[];
}

export interface RuleLimits {
  readonly rate?: { readonly requestsPerSecond: number; readonly burst?: number };
  readonly rateKey: 'Rule' | 'Tool' | 'Subject' | 'SubjectTool';
  readonly maxConcurrency?: number;
  readonly timeoutSeconds?: number;
  readonly maxCallsPerSession?: number;
}

export interface Allow {
  readonly allowed: true;
  readonly policyHash: string;
  readonly rule: RuleRef;
  /** Arguments after Force bindings: what the upstream receives. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly limits?: RuleLimits;
}

export type Decision = Allow | Denial;

/** The outcome of a call including shadow (Audit-mode) policies that would have refused it. */
export interface Verdict {
  readonly decision: Decision;
  /** Set when the call was allowed but enforcing the Audit-mode policies would have denied it. */
  readonly wouldDeny?: Denial;
}
