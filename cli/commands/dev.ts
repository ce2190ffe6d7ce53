import { resolve } from 'node:path';
import { execPath } from 'node:process';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../collector/duration.ts';
import type { CliIo } from '../io.ts';
import { EXIT } from '../io.ts';

export const DEV_HELP = `portcullis dev — run the demo stack to explore Portcullis, no cluster needed

Usage:
  portcullis dev [DIR] [flags]

Starts on 127.0.0.1 what 'portcullis demo' walks through, and keeps it running until Ctrl-C: a local
OpenID provider, the demo billing MCP server, the audit collector and the sidecar serving the McpServer
and ToolPolicies in DIR (default: examples/demo of this checkout; exactly one McpServer; edits are
picked up on save). Prints the MCP endpoint, a bearer token per demo user and agent (alice via
support-copilot, bob via ops-agent), a curl command, an MCP client config, and the audit query.
Ctrl-C stops everything; the audit database and tokens are removed.

Flags:
  --port-base N        ports N..N+6 on 127.0.0.1 (default 7400; 0: any free ports):
                       N MCP endpoint (the sidecar), N+1 sidecar admin, N+2 collector,
                       N+3 collector metrics, N+4 identity provider, N+5 billing server, N+6 egress proxy
  --token-ttl DURATION lifetime of the printed tokens (default 8h; at most 24h; units s m h)
  -h, --help           show this help

Needs a source checkout with its dev dependencies (npm ci): the identity provider is oidc-provider.

Exit codes: 0 stopped by Ctrl-C (SIGINT) or SIGTERM, 1 the stack failed to start or a process of it
died, 2 usage error.
`;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const MAX_TTL_SECONDS = 24 * 3600;

interface DevArgs {
  readonly policyDir: string;
  readonly portBase: number;
  readonly tokenTtlSeconds: number;
}

export async function runDev(args: readonly string[], io: CliIo): Promise<number> {
  let parsed: DevArgs | 'help';
  try {
    parsed = parseDevArgs(args);
  } catch (error) {
    io.err(`portcullis dev: ${(error as Error).message}\nRun 'portcullis dev --help' for usage.\n`);
    return EXIT.usage;
  }
  if (parsed === 'help') {
    io.out(DEV_HELP);
    return EXIT.ok;
  }
  const { missingDevDependency } = await import('../../demo/dependencies.ts');
  const missing = await missingDevDependency();
  if (missing !== undefined) {
    io.err(`portcullis dev: ${missing}\n`);
    return EXIT.failure;
  }
  const { runDevSession } = await import('../../demo/dev/session.ts');
  const { chooseStyle } = await import('../../demo/output/style.ts');
  const { freePorts, portsFrom } = await import('../../demo/stack/ports.ts');
  try {
    const end = await runDevSession({
      // CliIo has no execPath: the stack's processes run on the Node running this command.
      nodePath: execPath,
      env: { ...io.childEnv },
      policyDir: parsed.policyDir,
      ports: parsed.portBase === 0 ? await freePorts() : portsFrom(parsed.portBase),
      tokenTtlSeconds: parsed.tokenTtlSeconds,
      out: io.out,
      style: chooseStyle(isatty(1), io.env),
      untilShutdown: io.untilShutdown(),
    });
    return end.reason === 'shutdown' ? EXIT.ok : EXIT.failure;
  } catch (error) {
    io.err(`portcullis dev: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
}

function parseDevArgs(args: readonly string[]): DevArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      'port-base': { type: 'string', default: '7400' },
      'token-ttl': { type: 'string', default: '8h' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 1) throw new Error(`one DIR at most, got ${positionals.join(' ')}`);
  const portBase = Number(values['port-base']);
  if (!Number.isInteger(portBase) || (portBase !== 0 && (portBase < 1024 || portBase > 65_535 - 6)))
    throw new Error(`--port-base must be 0 or a port from 1024 to 65529, got ${values['port-base']}`);
  const ttlMs = parseDuration(values['token-ttl']);
  if (ttlMs === undefined || ttlMs < 60_000 || ttlMs > MAX_TTL_SECONDS * 1000)
    throw new Error(`--token-ttl must be a duration from 1m to 24h, got ${values['token-ttl']}`);
  return {
    policyDir: positionals[0] === undefined ? resolve(repoRoot, 'examples/demo') : resolve(positionals[0]),
    portBase,
    tokenTtlSeconds: Math.round(ttlMs / 1000),
  };
}
