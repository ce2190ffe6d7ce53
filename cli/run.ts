import { API_VERSION } from '../api/v1alpha1/group.ts';
import packageJson from '../package.json' with { type: 'json' };
import { EXIT, type CliIo } from './io.ts';

export { EXIT, type CliIo } from './io.ts';

const HELP = `portcullis — a policy gate in front of every MCP server on Kubernetes

Usage:
  portcullis <command> [flags]

Commands:
  sidecar     Run the gate in front of one MCP server (see 'portcullis sidecar --help')
  operator    Reconcile McpServers and ToolPolicies (see 'portcullis operator --help')
  collector   Receive, store, query and export audit events (see 'portcullis collector --help')
  audit       Query the audit trail: who called what, decided how (see 'portcullis audit --help')
  version     Print the version and the API version served

Flags:
  -h, --help  Show this help

Exit codes:
  0  success
  1  the command failed
  2  usage error (unknown command or flag, invalid configuration)
`;

export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.out(HELP);
    return EXIT.ok;
  }
  if (command === 'version' && rest.length === 0) {
    io.out(`portcullis ${packageJson.version} (API ${API_VERSION})\n`);
    return EXIT.ok;
  }
  // Each command loads only its own modules: a sidecar restarting in a crash loop should not pay for
  // the operator's Kubernetes client or the collector's database drivers.
  if (command === 'sidecar') return (await import('./commands/sidecar.ts')).runSidecar(rest, io);
  if (command === 'operator') return (await import('./commands/operator.ts')).runOperator(rest, io);
  if (command === 'collector') return (await import('./commands/collector.ts')).runCollector(rest, io);
  if (command === 'audit') return (await import('./commands/audit.ts')).runAudit(rest, io);
  io.err(`portcullis: unknown command or arguments: ${args.join(' ')}\nRun 'portcullis --help' for usage.\n`);
  return EXIT.usage;
}
