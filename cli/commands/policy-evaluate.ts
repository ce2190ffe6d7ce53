import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { authorize } from '../../policy/authorize.ts';
import { canonicalJson } from '../../policy/hash.ts';
import type { LoadedPolicy } from '../../policy/load.ts';
import type { Principal } from '../../policy/principal.ts';
import { missingScopes } from '../../sidecar/auth/scopes.ts';
import { principalFromClaims } from '../../sidecar/auth/principal-claims.ts';
import { expectation, tokenClaims, type SampleCall } from './policy-calls.ts';

/**
 * One sample call through what the sidecar does after verifying a token's signature: map the claims to
 * a principal (principalFromClaims), check the server's required scopes, then the policy decision
 * (authorize). The same functions, so a test that passes here passes at the gate.
 */
export interface Evaluation {
  readonly allowed: boolean;
  /** Where the call was decided: the token's claims and required scopes, or the policy. */
  readonly stage: 'token' | 'policy';
  /** A denial code (policy) or an authentication failure code (token). */
  readonly code?: string;
  readonly reason?: string;
  /** ToolPolicy/rule that decided. */
  readonly rule?: string;
  /** The arguments the server would receive, when bindings changed them. */
  readonly boundArguments?: Readonly<Record<string, unknown>>;
  /** Allowed, but an Audit-mode policy would refuse it: its code and reason. */
  readonly wouldDeny?: { readonly code: string; readonly reason: string; readonly rule?: string };
  readonly principal?: Principal;
}

export interface CheckedCall {
  readonly index: number;
  readonly call: SampleCall;
  readonly evaluation: Evaluation;
  /** Expectations that did not hold; empty when all held or none were given. */
  readonly failures: readonly string[];
}

export function evaluateCall(policy: LoadedPolicy, server: McpServer, call: SampleCall): Evaluation {
  const { auth } = server.spec;
  const mapped = principalFromClaims(tokenClaims(call, auth.claims), auth.claims);
  if (!mapped.ok) {
    return { allowed: false, stage: 'token', code: mapped.failure.code, reason: mapped.failure.reason };
  }
  const principal = mapped.principal;
  const missing = missingScopes(auth.requiredScopes ?? [], principal.scopes);
  if (missing.length > 0) {
    return {
      allowed: false,
      stage: 'token',
      code: 'insufficient_scope',
      reason: `McpServer ${server.metadata.name} requires scope ${missing.join(' ')} for every call`,
      principal,
    };
  }
  const args = call.arguments ?? {};
  const { decision, wouldDeny } = authorize(policy, { principal, tool: call.tool, args });
  const rule = decision.rule && `${decision.rule.policy}/${decision.rule.rule}`;
  if (!decision.allowed) {
    return {
      allowed: false,
      stage: 'policy',
      code: decision.code,
      reason: decision.reason,
      ...(rule ? { rule } : {}),
      principal,
    };
  }
  const changed = canonicalJson(decision.args) !== canonicalJson(args);
  return {
    allowed: true,
    stage: 'policy',
    ...(rule ? { rule } : {}),
    ...(changed ? { boundArguments: decision.args } : {}),
    ...(wouldDeny
      ? {
          wouldDeny: {
            code: wouldDeny.code,
            reason: wouldDeny.reason,
            ...(wouldDeny.rule ? { rule: `${wouldDeny.rule.policy}/${wouldDeny.rule.rule}` } : {}),
          },
        }
      : {}),
    principal,
  };
}

/** The expectations of a call that the evaluation breaks, each as a sentence. */
export function unmetExpectations(call: SampleCall, evaluation: Evaluation): string[] {
  const failures: string[] = [];
  const expected = expectation(call);
  const got = evaluation.allowed ? 'allow' : 'deny';
  if (expected !== undefined && expected !== got) failures.push(`expected ${expected}, got ${got}`);
  if (call.expectCode !== undefined && evaluation.code !== call.expectCode) {
    failures.push(`expected code ${call.expectCode}, got ${evaluation.code ?? 'none (allowed)'}`);
  }
  if (call.expectRule !== undefined && evaluation.rule !== call.expectRule) {
    failures.push(`expected rule ${call.expectRule}, got ${evaluation.rule ?? 'none'}`);
  }
  if (call.expectArguments !== undefined && evaluation.allowed) {
    const received = evaluation.boundArguments ?? call.arguments ?? {};
    if (canonicalJson(received) !== canonicalJson(call.expectArguments)) {
      failures.push(
        `expected arguments ${canonicalJson(call.expectArguments)}, the server would get ${canonicalJson(received)}`,
      );
    }
  }
  return failures;
}

export function checkCalls(
  policy: LoadedPolicy,
  server: McpServer,
  calls: readonly SampleCall[],
): CheckedCall[] {
  return calls.map((call, index) => {
    const evaluation = evaluateCall(policy, server, call);
    return { index, call, evaluation, failures: unmetExpectations(call, evaluation) };
  });
}
