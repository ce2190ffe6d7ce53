import { parseFlags } from '../flags.ts';
import { isToolVisible } from '../../policy/visibility.ts';
import { cel } from '../../policy/cel.ts';
import { loadBundle, type LoadedPolicy } from '../../policy/load.ts';
import { canonicalJson } from '../../policy/hash.ts';
import { nameMatcher } from '../../policy/glob.ts';
import { EXIT, type CliIo } from '../io.ts';
import { usageError } from '../errors.ts';
import { sanitize } from '../table.ts';
import { parseToolList } from './kill-target.ts';
import { sampleCall, type SampleCall } from './policy-calls.ts';
import { evaluateCall } from './policy-evaluate.ts';
import { globRules, ruleLines, toolsToExplain } from './policy-explain-format.ts';
import { compileFromFiles, type CompiledServer } from './policy-files.ts';
import { killedBy, traceCall } from './policy-trace.ts';

const FLAGS = {
  filename: { type: 'string', short: 'f', multiple: true },
  server: { type: 'string' },
  tool: { type: 'string', multiple: true },
  as: { type: 'string' },
  agent: { type: 'string' },
  tenant: { type: 'string' },
  group: { type: 'string', multiple: true },
  scope: { type: 'string', multiple: true },
  claims: { type: 'string' },
  args: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const POLICY_EXPLAIN_HELP = `portcullis policy explain — who may call which tool, and why, offline

Usage:
  portcullis policy explain -f FILE|DIR [-f …] [--server NS/NAME] [--tool T] [principal flags]

Examples:
  portcullis policy explain -f examples/billing.yaml
  portcullis policy explain -f examples/billing.yaml --tool read_invoice --as alice \\
      --agent support-copilot --tenant acme --group support --scope billing --scope billing:invoices:read

Without a principal: per tool, the kill switches in force, the Deny rules and the Allow rules that may
admit a call (subjects, scopes, argument bindings, conditions, limits). Tools are those given with
--tool, else those pinned, killed or named in a rule; rules with glob patterns are listed at the end.

With --as: per tool, the evaluation trace in the order the sidecar evaluates: kill switches, Deny
rules, then Allow rules until one holds, each with the check that held or failed; then the decision
(from the sidecar's own authorize function) and whether tools/list shows the tool to that caller.

Flags:
  -f, --filename PATH     a manifest file or directory (repeatable), as for 'policy test'
  --server NS/NAME        the McpServer (NAME alone if unique); needed when the files hold several
  --tool NAME             explain this tool only (repeatable, or a,b)
  --as USER               the caller: the token's user claim
  --agent ID              its agent (client id)
  --tenant TENANT         its tenant
  --group GROUP           a group (repeatable)
  --scope SCOPE           a granted scope (repeatable)
  --claims JSON           further token claims, e.g. '{"acr":"mfa"}'
  --args JSON             the call's arguments for conditions and bindings (default {})
  -h, --help              show this help

Exit codes: 0 explained, 2 invalid input (flags, manifests that do not validate or compile).
`;

export async function runPolicyExplain(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.help) {
    io.out(POLICY_EXPLAIN_HELP);
    return EXIT.ok;
  }
  if (values.filename === undefined) throw usageError('-f FILE|DIR is required: the manifests to explain');
  const tools = values.tool === undefined ? undefined : parseToolList(values.tool.join(','));
  const principalFlags = [values.agent, values.tenant, values.group, values.scope, values.claims];
  if (values.as === undefined && principalFlags.some((flag) => flag !== undefined)) {
    throw usageError('--agent, --tenant, --group, --scope and --claims describe a caller: add --as USER');
  }
  const caller =
    values.as === undefined
      ? undefined
      : callerOf({
          user: values.as,
          agent: values.agent,
          tenant: values.tenant,
          groups: values.group ?? [],
          scopes: values.scope ?? [],
          claims: values.claims === undefined ? undefined : jsonFlag('--claims', values.claims),
          arguments: values.args === undefined ? undefined : jsonFlag('--args', values.args),
        });
  if (caller === undefined && values.args !== undefined)
    throw usageError('--args needs a caller: add --as USER');
  const compiled = await compileFromFiles(values.filename, values.server);
  const policy = loadBundle(compiled.bundle, cel);
  const text =
    caller === undefined ? overview(compiled, policy, tools) : traces(compiled, policy, tools, caller);
  io.out(text.map(sanitize).join('\n') + '\n');
  return EXIT.ok;
}

function jsonFlag(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw usageError(`${flag} is not JSON: ${(error as Error).message}`);
  }
}

/** The flags as a sample call (tool filled in per tool), validated like a calls file entry. */
function callerOf(fields: Record<string, unknown>): Omit<SampleCall, 'tool'> {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const parsed = sampleCall.safeParse({ ...defined, tool: 'x' });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag =
      { user: '--as', claims: '--claims', arguments: '--args' }[String(issue.path[0])] ??
      `--${String(issue.path[0])}`;
    throw usageError(`${flag}: ${issue.message}`);
  }
  return {
    ...parsed.data,
    ...(fields['claims'] === undefined ? {} : { claims: fields['claims'] as Record<string, unknown> }),
    ...(fields['arguments'] === undefined
      ? {}
      : { arguments: fields['arguments'] as Record<string, unknown> }),
  };
}

function header(compiled: CompiledServer): string[] {
  const { server, bundle } = compiled;
  const lines = [
    `McpServer ${server.metadata.namespace}/${server.metadata.name}, policy ${bundle.hash}`,
    `  ToolPolicies in evaluation order: ${bundle.policies.map((p) => `${p.name}${p.mode === 'Audit' ? ' (Audit)' : ''}`).join(', ') || 'none (every call is refused)'}`,
    `  every call needs a token from ${server.spec.auth.issuer}${server.spec.auth.requiredScopes?.length ? ` with scopes ${server.spec.auth.requiredScopes.join(' ')}` : ''}`,
  ];
  const kills = [
    ...bundle.kill.server.map((k) => `${k.source} ${k.name}${k.reason ? ` (${k.reason})` : ''}: every call`),
    ...(bundle.kill.tools.length > 0
      ? [`tools ${bundle.kill.tools.join(', ')}${bundle.kill.reason ? ` (${bundle.kill.reason})` : ''}`]
      : []),
    ...bundle.policies
      .filter((p) => p.kill)
      .map((p) => `ToolPolicy ${p.name}${p.kill?.reason ? ` (${p.kill.reason})` : ''}: the tools it selects`),
  ];
  lines.push(`  kill switches in force: ${kills.length === 0 ? 'none' : kills.join('; ')}`);
  return lines;
}

function overview(compiled: CompiledServer, policy: LoadedPolicy, wanted: string[] | undefined): string[] {
  const lines = header(compiled);
  for (const tool of toolsToExplain(policy, wanted)) {
    lines.push('', `Tool ${tool}`);
    const kill = killedBy(policy, tool);
    if (kill !== undefined) lines.push(`  KILLED: ${kill}; every call is refused whatever the rules say`);
    const rules = (effect: 'Allow' | 'Deny') =>
      compiled.bundle.policies.flatMap((p) =>
        p.rules
          .filter((rule) => rule.effect === effect && nameMatcher(rule.tools)(tool))
          .flatMap((rule) => ruleLines(p.name, p.mode, rule).map((line) => `    ${line}`)),
      );
    const deny = rules('Deny');
    const allow = rules('Allow');
    lines.push(deny.length === 0 ? '  denied by: no rule' : '  denied by (any that holds):', ...deny);
    lines.push(
      allow.length === 0
        ? '  allowed by: no rule (refused for everyone: default deny)'
        : '  allowed by (the first that holds):',
      ...allow,
    );
  }
  const globs = globRules(policy);
  if (globs.length > 0)
    lines.push('', 'Rules with patterns (they reach every tool they match):', ...globs.map((g) => `  ${g}`));
  return lines;
}

function traces(
  compiled: CompiledServer,
  policy: LoadedPolicy,
  wanted: string[] | undefined,
  caller: Omit<SampleCall, 'tool'>,
): string[] {
  const lines = header(compiled);
  const args = caller.arguments ?? {};
  for (const tool of toolsToExplain(policy, wanted)) {
    const evaluation = evaluateCall(policy, compiled.server, { ...caller, tool });
    lines.push(
      '',
      `Tool ${tool} called by ${caller.user}${caller.agent ? ` via ${caller.agent}` : ''} with ${canonicalJson(args)}`,
    );
    if (evaluation.stage === 'token') {
      lines.push(`  refused before policy (${evaluation.code}): ${evaluation.reason}`);
      continue;
    }
    const principal = evaluation.principal!;
    const trace = traceCall(policy, principal, tool, args);
    lines.push(`  1. kill switches: ${trace.killedBy ?? 'none'}`);
    const section = (n: number, title: string, effect: 'Allow' | 'Deny') => {
      lines.push(`  ${n}. ${title}`);
      const rules = trace.rules.filter((r) => r.effect === effect);
      if (rules.length === 0) lines.push('     (none)');
      for (const rule of rules) {
        const verdict = rule.holds ? 'HOLDS' : 'does not hold';
        const note = rule.shadow
          ? ' (Audit mode: would-deny only)'
          : rule.reached === false
            ? ' (not reached: decided before it)'
            : '';
        lines.push(`     ${rule.ref}: ${verdict}${note}`);
        for (const step of rule.steps) lines.push(`       - ${step}`);
      }
    };
    section(2, 'Deny rules (any that holds refuses):', 'Deny');
    section(3, 'Allow rules (the first that holds allows):', 'Allow');
    lines.push(
      evaluation.allowed
        ? `  => allowed by ${evaluation.rule}`
        : `  => denied (${evaluation.code})${evaluation.rule ? ` by ${evaluation.rule}` : ''}: ${evaluation.reason}`,
    );
    if (evaluation.boundArguments !== undefined)
      lines.push(`     arguments after bindings: ${canonicalJson(evaluation.boundArguments)}`);
    if (evaluation.wouldDeny !== undefined)
      lines.push(`     an Audit-mode policy would deny it: ${evaluation.wouldDeny.reason}`);
    lines.push(
      `     shown in tools/list to this caller: ${isToolVisible(policy, principal, tool) ? 'yes' : 'no'}`,
    );
    // A rule decides an allow or a Deny; other denials name the closest rule, which the trace leaves open.
    const ruleDecided = evaluation.allowed || evaluation.code === 'denied_by_rule';
    const disagree =
      trace.allowed !== evaluation.allowed ||
      (evaluation.code === 'killed') !== (trace.killedBy !== undefined) ||
      (ruleDecided && trace.decidingRule !== evaluation.rule);
    if (disagree) {
      lines.push(
        '     note: the trace and the decision disagree; the decision is authoritative (please report this)',
      );
    }
  }
  return lines;
}
