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
  egress-lock Let only the sidecar's UID send beyond loopback in a pod: its init container (see --help)
  kill        Engage a kill switch on a server, its tools, a policy or a namespace
  release     Release a kill switch
  status      McpServers at a glance: ready, killed, policy served, drift, endpoint
  policy      Test and explain policy offline: 'policy test', 'policy explain'
  demo        A scripted walkthrough with real calls, no cluster needed (make demo)
  dev         Run the demo stack to explore: MCP endpoint, tokens, audit (see 'portcullis dev --help')
  version     Print the version, the commit it was built from and the API version served

Flags:
  -h, --help  Show this help
  --version   The same as 'portcullis version'

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
  if (command === 'version' || (command === '--version' && rest.length === 0)) {
    return (await import('./commands/version.ts')).runVersion(rest, io);
  }
  // Each command loads only its own modules: a sidecar restarting in a crash loop should not pay for
  // the operator's Kubernetes client or the collector's database drivers.
  if (command === 'sidecar') return (await import('./commands/sidecar.ts')).runSidecar(rest, io);
  if (command === 'operator') return (await import('./commands/operator.ts')).runOperator(rest, io);
  if (command === 'collector') return (await import('./commands/collector.ts')).runCollector(rest, io);
  if (command === 'audit') return (await import('./commands/audit.ts')).runAudit(rest, io);
  if (command === 'egress-lock') return (await import('./commands/egress-lock.ts')).runEgressLock(rest, io);
  if (command === 'kill') return (await import('./commands/kill.ts')).runKill(rest, io);
  if (command === 'release') return (await import('./commands/release.ts')).runRelease(rest, io);
  if (command === 'status') return (await import('./commands/status.ts')).runStatus(rest, io);
  if (command === 'policy') return (await import('./commands/policy-command.ts')).runPolicy(rest, io);
  if (command === 'demo') return (await import('./commands/demo.ts')).runDemo(rest, io);
  if (command === 'dev') return (await import('./commands/dev.ts')).runDev(rest, io);
  io.err(`portcullis: unknown command or arguments: ${args.join(' ')}\nRun 'portcullis --help' for usage.\n`);
  return EXIT.usage;
}
