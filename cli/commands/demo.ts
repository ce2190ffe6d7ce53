import { join } from 'node:path';
import { execPath } from 'node:process';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CliIo } from '../io.ts';
import { EXIT } from '../io.ts';

export const DEMO_HELP = `portcullis demo — a scripted walkthrough of Portcullis with real calls, no cluster needed

Usage:
  portcullis demo            (make demo)

Starts, on 127.0.0.1 and free ports: a local OpenID provider (oidc-provider), the demo billing MCP
server, the audit collector ('portcullis collector', SQLite) and the sidecar ('portcullis sidecar',
policies from a copy of examples/demo). Two users sign in through two agents; then, with real MCP calls,
it shows an allowed call, a tool hidden and refused for the wrong user, a cross-tenant read refused by
argument binding, a rate limit and a concurrency cap biting, the kill switch engaged and released, and
the audit query that answers who called what. Each step checks that Portcullis behaved as described.
Everything is stopped at the end; it takes about 10 s.

Needs a source checkout with its dev dependencies (npm ci): the identity provider is oidc-provider.

Flags:
  -h, --help   show this help

Exit codes: 0 every step behaved as described, 1 a step did not (or the stack failed to start),
2 usage error.
`;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function runDemo(args: readonly string[], io: CliIo): Promise<number> {
  let help: boolean | undefined;
  try {
    ({
      values: { help },
    } = parseArgs({ args: [...args], options: { help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    io.err(`portcullis demo: ${(error as Error).message}\nRun 'portcullis demo --help' for usage.\n`);
    return EXIT.usage;
  }
  if (help) {
    io.out(DEMO_HELP);
    return EXIT.ok;
  }
  const { missingDevDependency } = await import('../../demo/dependencies.ts');
  const missing = await missingDevDependency();
  if (missing !== undefined) {
    io.err(`portcullis demo: ${missing}\n`);
    return EXIT.failure;
  }
  const { runWalkthrough } = await import('../../demo/walkthrough/run.ts');
  const { chooseStyle } = await import('../../demo/output/style.ts');
  try {
    const result = await runWalkthrough({
      // CliIo has no execPath: the stack's processes run on the Node running this command.
      nodePath: execPath,
      env: { ...io.childEnv },
      policySource: join(repoRoot, 'examples/demo'),
      out: io.out,
      style: chooseStyle(isatty(1), io.env),
      interrupted: io.untilShutdown(),
    });
    return result.passed ? EXIT.ok : EXIT.failure;
  } catch (error) {
    io.err(`portcullis demo: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
}
