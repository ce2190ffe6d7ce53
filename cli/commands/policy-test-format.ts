import { canonicalJson } from '../../policy/hash.ts';
import { sanitize } from '../table.ts';
import type { CheckedCall } from './policy-evaluate.ts';
import { expectation } from './policy-calls.ts';

export interface TestReport {
  readonly server: string;
  readonly policyHash: string;
  readonly results: readonly CheckedCall[];
}

export function summary(results: readonly CheckedCall[]) {
  const checked = results.filter((r) => expectation(r.call) !== undefined || r.call.expectRule !== undefined);
  const failed = results.filter((r) => r.failures.length > 0).length;
  return {
    total: results.length,
    passed: checked.length - failed,
    failed,
    unchecked: results.length - checked.length,
  };
}

function who(result: CheckedCall): string {
  const { call } = result;
  const parts = [
    ...(call.agent === undefined ? [] : [`agent ${call.agent}`]),
    ...(call.tenant === undefined ? [] : [`tenant ${call.tenant}`]),
    ...(call.groups.length === 0 ? [] : [`groups ${call.groups.join(',')}`]),
    ...(call.scopes.length === 0 ? [] : [`scopes ${call.scopes.join(' ')}`]),
  ];
  return `${call.tool} as ${call.user}${parts.length === 0 ? '' : ` (${parts.join(', ')})`}`;
}

function verdict(result: CheckedCall): string {
  const e = result.evaluation;
  const by = e.rule === undefined ? '' : ` by ${e.rule}`;
  if (e.allowed) return `allowed${by}`;
  const where = e.stage === 'token' ? ' at authentication' : '';
  return `denied${where} (${e.code})${by}: ${e.reason}`;
}

/** For people: one block per call, PASS, FAIL or "-" (no expectation), then a summary line. */
export function renderTestText(report: TestReport): string {
  const lines: string[] = [];
  for (const result of report.results) {
    const checked = expectation(result.call) !== undefined || result.call.expectRule !== undefined;
    const mark = result.failures.length > 0 ? 'FAIL' : checked ? 'PASS' : '-   ';
    const title = result.call.name ?? `call ${result.index + 1}`;
    lines.push(`${mark}  [${result.index + 1}] ${title}`);
    lines.push(`      ${who(result)}`);
    lines.push(`      ${verdict(result)}`);
    const e = result.evaluation;
    if (e.boundArguments !== undefined) {
      lines.push(`      arguments after bindings: ${canonicalJson(e.boundArguments)}`);
    }
    if (e.wouldDeny !== undefined) {
      lines.push(`      an Audit-mode policy would deny it (${e.wouldDeny.code}): ${e.wouldDeny.reason}`);
    }
    for (const failure of result.failures) lines.push(`      ${failure}`);
  }
  const s = summary(report.results);
  lines.push(
    '',
    `${s.total} calls: ${s.passed} passed, ${s.failed} failed, ${s.unchecked} without expectations ` +
      `(McpServer ${report.server}, policy ${report.policyHash})`,
  );
  return lines.map(sanitize).join('\n') + '\n';
}

/** For programs: every decision and expectation, values as evaluated. */
export function renderTestJson(report: TestReport): string {
  return `${JSON.stringify(
    {
      server: report.server,
      policyHash: report.policyHash,
      summary: summary(report.results),
      calls: report.results.map((r) => {
        const { principal: _principal, ...evaluation } = r.evaluation;
        return {
          index: r.index + 1,
          ...(r.call.name === undefined ? {} : { name: r.call.name }),
          tool: r.call.tool,
          user: r.call.user,
          ...(r.call.agent === undefined ? {} : { agent: r.call.agent }),
          ...(r.call.tenant === undefined ? {} : { tenant: r.call.tenant }),
          ...evaluation,
          ...(expectation(r.call) === undefined ? {} : { expected: expectation(r.call) }),
          pass: r.failures.length === 0,
          failures: r.failures,
        };
      }),
    },
    null,
    2,
  )}\n`;
}
