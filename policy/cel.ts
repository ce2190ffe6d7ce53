import { celEnv, celFunc, celMethod, CelScalar, isCelError, mapType, parse, plan } from '@bufbuild/cel';
import type { Expr } from '@bufbuild/cel-spec/cel/expr/syntax_pb.js';
import { CONDITION_VARIABLES, type Condition, type ConditionLanguage } from './condition.ts';

/**
 * CEL `when` conditions: checked when a policy compiles, planned once when a bundle loads, evaluated per
 * call. The hot path never parses. Imported by the operator and the CLI; the sidecar imports it only when a
 * policy it loads has a condition (sidecar/policy/engines.ts), so nothing else in policy/ imports it.
 */

/**
 * Unicode code points in a string, as CEL's size() counts them (a lone surrogate is one), without a copy:
 * the library's own size() spreads the string into an array, one element per character, which for a
 * 1 KB argument is ~8 KB of garbage on every call of a rule like `size(args.text) < 4096`.
 */
export function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) continue;
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) {
      count--;
      i++;
    }
  }
  return count;
}

const dynMap = mapType(CelScalar.STRING, CelScalar.DYN);
const env = celEnv({
  variables: { claims: dynMap, principal: dynMap, tool: CelScalar.STRING, args: dynMap },
  // The same results as the standard overloads they replace (a property test holds them equal).
  funcs: [
    celFunc('size', [CelScalar.STRING], CelScalar.INT, (text) => BigInt(codePoints(text))),
    celMethod('size', CelScalar.STRING, [], CelScalar.INT, function () {
      return BigInt(codePoints(this));
    }),
  ],
});

/** Names the expression reads that no variable or comprehension binds. */
function freeIdentifiers(expr: Expr | undefined, bound: ReadonlySet<string>, out: Set<string>): void {
  const kind = expr?.exprKind;
  switch (kind?.case) {
    case 'identExpr':
      if (!bound.has(kind.value.name)) out.add(kind.value.name);
      return;
    case 'selectExpr':
      return freeIdentifiers(kind.value.operand, bound, out);
    case 'callExpr':
      freeIdentifiers(kind.value.target, bound, out);
      for (const arg of kind.value.args) freeIdentifiers(arg, bound, out);
      return;
    case 'listExpr':
      for (const element of kind.value.elements) freeIdentifiers(element, bound, out);
      return;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') freeIdentifiers(entry.keyKind.value, bound, out);
        freeIdentifiers(entry.value, bound, out);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      freeIdentifiers(c.iterRange, bound, out);
      freeIdentifiers(c.accuInit, bound, out);
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter((name) => name !== ''));
      for (const part of [c.loopCondition, c.loopStep, c.result]) freeIdentifiers(part, inner, out);
      return;
    }
    default:
      return;
  }
}

/** Why the condition cannot be used, or undefined when it compiles. */
export function conditionError(source: string): string | undefined {
  let parsed;
  try {
    parsed = parse(source);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `CEL syntax error: ${message.replace(/^syntax error: /, '')}`;
  }
  const unknown = new Set<string>();
  freeIdentifiers(parsed.expr, new Set(CONDITION_VARIABLES), unknown);
  if (unknown.size > 0) {
    return `unknown variable ${[...unknown].map((n) => `'${n}'`).join(', ')}; conditions may use ${CONDITION_VARIABLES.join(', ')}`;
  }
  return undefined;
}

/** Plans a condition that conditionError accepted. */
export function compileCondition(source: string): Condition {
  const evaluate = plan(env, parse(source));
  return (input) => {
    const result = evaluate(input as never);
    if (isCelError(result)) return { error: result.message };
    if (typeof result !== 'boolean') return { error: `condition returned ${typeof result}, not bool` };
    return result;
  };
}

/** CEL as the condition language that compile() and loadBundle() take. */
export const cel: ConditionLanguage = { check: conditionError, plan: compileCondition };
