/**
 * `when` conditions as the rest of policy sees them: the variables a condition reads, what it returns, and
 * the language that checks and plans it. The language itself (CEL, policy/cel.ts) is passed in, never
 * imported here: it weighs ~18 MiB at rest (protobuf, an RE2 build), and a sidecar whose policy has no
 * condition never loads it (sidecar/policy/engines.ts).
 */
export const CONDITION_VARIABLES = ['claims', 'principal', 'tool', 'args'] as const;

export interface ConditionInput {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly principal: Readonly<Record<string, unknown>>;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** true, false, or an evaluation error (a missing argument, a type mismatch): callers fail closed. */
export type ConditionResult = boolean | { readonly error: string };
export type Condition = (input: ConditionInput) => ConditionResult;

export interface ConditionLanguage {
  /** Why the condition cannot be used, or undefined when it compiles (policy compile time). */
  readonly check: (source: string) => string | undefined;
  /** Plans a condition that check accepted, once per bundle load; throws on one it would refuse. */
  readonly plan: (source: string) => Condition;
}

/** Does any rule of these policies have a `when` condition? (Bundle policies and ToolPolicy specs alike.) */
export function hasConditions(
  policies: readonly { readonly rules: readonly { readonly when?: string }[] }[],
) {
  return policies.some((policy) => policy.rules.some((rule) => rule.when !== undefined));
}

/** Why a condition cannot be used where no condition language was given (a safety net: fail closed). */
export const NO_CONDITION_LANGUAGE = 'conditions cannot be checked here: no condition language was loaded';

/** loadBundle met a condition and was given no language to plan it with. */
export class ConditionLanguageMissingError extends Error {
  readonly code = 'condition_language_missing';
  constructor(rule: string) {
    super(`rule ${rule} has a when condition, but ${NO_CONDITION_LANGUAGE}`);
  }
}
