import { parseFlags } from '../flags.ts';
import type { KubeconfigFlags } from '../kubeconfig.ts';
import { usageError } from '../errors.ts';
import { parseKillTarget, type KillTarget } from './kill-target.ts';
import type { SwitchAction } from './kill-plan.ts';

export const SWITCH_FLAGS = {
  reason: { type: 'string' },
  tool: { type: 'string', multiple: true },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  'dry-run': { type: 'boolean' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Long enough for a sentence and a ticket link; the signer's name is added to it. */
export const MAX_REASON = 512;

export interface SwitchOptions {
  readonly action: SwitchAction;
  readonly target: KillTarget;
  /** -n; undefined: the kubeconfig context's namespace, else "default" (as kubectl). */
  readonly namespace?: string;
  readonly reason?: string;
  readonly output: 'text' | 'json' | 'yaml';
  readonly dryRun: boolean;
  readonly kubeconfig: KubeconfigFlags;
}

/** Arguments of `kill` or `release` as options, 'help' for -h; a usage CliError (exit 2) otherwise. */
export function parseSwitchArgs(action: SwitchAction, args: readonly string[]): SwitchOptions | 'help' {
  const parsed = parseFlags(args, SWITCH_FLAGS, true);
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw usageError(
      positionals.length === 0
        ? `which object? e.g. portcullis ${action} mcpserver/billing${action === 'kill' ? ' --reason "…"' : ''}`
        : `one TARGET at a time, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  const target = parseKillTarget(
    positionals[0]!,
    values.tool === undefined ? undefined : values.tool.join(','),
  );
  if (target.kind === 'namespace' && values.namespace !== undefined) {
    throw usageError('namespace/NAME is not namespaced: -n/--namespace does not apply');
  }
  if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.namespace)) {
    throw usageError(`-n ${JSON.stringify(values.namespace)} is not a namespace name`);
  }
  const reason = values.reason === undefined ? undefined : checkReason(values.reason);
  if (action === 'kill' && reason === undefined) {
    throw usageError(
      'a reason is required: --reason "why, e.g. a ticket" (it is recorded on the object and shown with refusals)',
    );
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json' && output !== 'yaml') {
    throw usageError(`-o must be json or yaml (default: a sentence), got ${JSON.stringify(output)}`);
  }
  return {
    action,
    target,
    ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
    ...(reason === undefined ? {} : { reason }),
    output,
    dryRun: values['dry-run'] ?? false,
    kubeconfig: {
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
      ...(values.context === undefined ? {} : { context: values.context }),
    },
  };
}

/** One line of printable text: it ends up in annotations, status, refusals and terminals. */
function checkReason(text: string): string {
  const reason = text.trim();
  if (reason === '') throw usageError('--reason must not be empty');
  if ([...reason].length > MAX_REASON) throw usageError(`--reason is longer than ${MAX_REASON} characters`);
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(reason)) {
    throw usageError('--reason must be one line of printable text (no control or formatting characters)');
  }
  return reason;
}
