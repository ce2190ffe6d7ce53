import { parseFlags } from '../flags.ts';
import { usageError } from '../errors.ts';
import type { KubeconfigFlags } from '../kubeconfig.ts';

export const STATUS_FLAGS = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
  output: { type: 'string', short: 'o' },
  'fail-unready': { type: 'boolean' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const STATUS_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;

export interface StatusOptions {
  readonly name?: string;
  /** all: -A; default: the kubeconfig context's namespace, else "default". */
  readonly namespace:
    | { readonly kind: 'all' }
    | { readonly kind: 'default' }
    | { readonly kind: 'named'; readonly name: string };
  readonly output: (typeof STATUS_FORMATS)[number];
  readonly failUnready: boolean;
  readonly kubeconfig: KubeconfigFlags;
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseStatusArgs(args: readonly string[]): StatusOptions | 'help' {
  const parsed = parseFlags(args, STATUS_FLAGS, true);
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 1) throw usageError(`at most one NAME, got ${positionals.join(' ')}`);
  const name = positionals[0]?.replace(/^(mcpservers?|server)\//, '');
  if (name !== undefined && !(LABEL.test(name) && name.length <= 63)) {
    throw usageError(`${JSON.stringify(positionals[0])} is not an McpServer name`);
  }
  if (values.namespace !== undefined && values['all-namespaces']) {
    throw usageError('-n/--namespace and -A/--all-namespaces exclude each other');
  }
  if (name !== undefined && values['all-namespaces']) {
    throw usageError('a NAME is looked up in one namespace: use -n, not -A');
  }
  if (values.namespace !== undefined && !LABEL.test(values.namespace)) {
    throw usageError(`-n ${JSON.stringify(values.namespace)} is not a namespace name`);
  }
  const output = values.output ?? 'table';
  if (!(STATUS_FORMATS as readonly string[]).includes(output)) {
    throw usageError(`-o must be one of ${STATUS_FORMATS.join(', ')}, got ${JSON.stringify(output)}`);
  }
  return {
    ...(name === undefined ? {} : { name }),
    namespace: values['all-namespaces']
      ? { kind: 'all' }
      : values.namespace === undefined
        ? { kind: 'default' }
        : { kind: 'named', name: values.namespace },
    output: output as StatusOptions['output'],
    failUnready: values['fail-unready'] ?? false,
    kubeconfig: {
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
      ...(values.context === undefined ? {} : { context: values.context }),
    },
  };
}

export const STATUS_HELP = `portcullis status — McpServers at a glance

Usage:
  portcullis status [NAME] [flags]

Examples:
  portcullis status -A                      every server in every namespace
  portcullis status billing -n finance -o wide
  portcullis status -n finance --fail-unready && echo "all ready"

Columns:
  NAMESPACE, NAME
  READY      the Ready condition: True, False or Unknown
  KILLED     kill switches in force: server and tools(a,b) (its own annotations, which the sidecars
             read live), namespace and policy(p) (from status.killSwitch); - for none
  TOOLS      tools served of those the sidecars see published (not quarantined, not killed); "!"
             when quarantine leaves none (the ToolsServed condition; such a server is not Ready)
  POLICY     the policy bundle the operator compiled (first 12 hex digits of its sha256)
  SERVED     the bundles the sidecars report serving, with how many serve each; "!" marks a bundle
             other than POLICY (a sidecar not yet current)
  DRIFT      the ToolDrift condition: no, yes(tools drifted or quarantined), unknown (no reports)
  ENDPOINT   the in-cluster URL of the sidecar
  AGE
  -o wide adds REPLICAS (ready/existing), KILLED SINCE (how long the earliest switch in force has
  been engaged), KILL REASON ("who: why"), LAST RELEASE (who released a switch, how long ago, and
  why, as portcullis release recorded it) and NOT READY BECAUSE. -o yaml shows status.killSwitch
  whole: every switch with its type, since, reason and by, and lastRelease.

Flags:
  -n, --namespace NS      the namespace (default: the kubeconfig context's namespace, else default)
  -A, --all-namespaces    every namespace (needs list on mcpservers cluster-wide); not with -n or NAME
  -o, --output FORMAT     table (default), wide, json or yaml (the objects as the API server has them;
                          a List for more than NAME)
  --fail-unready          exit 1 when a server shown is not Ready (for scripts and CI)
  --kubeconfig FILE       kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME          the kubeconfig context to use
  -h, --help              show this help

Needs get (NAME) or list on mcpservers (group portcullis.dev).

Exit codes: 0 success (also when no server exists), 1 failure (not found, forbidden, API server
unreachable; with --fail-unready also a server not Ready), 2 usage error.
`;
