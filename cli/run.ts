import { API_VERSION } from '../api/v1alpha1/group.ts';
import packageJson from '../package.json' with { type: 'json' };

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** Exit codes, documented in --help: scripts and CI pipelines depend on them. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const HELP = `portcullis — a policy gate in front of every MCP server on Kubernetes

Usage:
  portcullis <command> [flags]

Commands:
  version     Print the version and the API version served

Flags:
  -h, --help  Show this help

Exit codes:
  0  success
  1  the command failed
  2  usage error (unknown command or flag)
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
  io.err(`portcullis: unknown command or arguments: ${args.join(' ')}\nRun 'portcullis --help' for usage.\n`);
  return EXIT.usage;
}
