import { EXIT, type CliIo } from '../io.ts';
import { exitCodeOf, usageError } from '../errors.ts';

export const POLICY_HELP = `portcullis policy — work with policy files offline, no cluster needed

Usage:
  portcullis policy test -f FILE|DIR --calls FILE     evaluate sample calls, check expectations (CI)
  portcullis policy explain -f FILE|DIR [--as USER]   who may call which tool, and why

Run 'portcullis policy test --help' or 'portcullis policy explain --help' for their flags.

Exit codes: 0 success, 1 an expectation failed (test), 2 usage error or invalid input files.
`;

/** `portcullis policy test|explain`. */
export function runPolicy(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  const command = sub === 'test' || sub === 'explain' ? `policy ${sub}` : 'policy';
  return exitCodeOf(command, io.err, async () => {
    if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
      io.out(POLICY_HELP);
      return EXIT.ok;
    }
    if (sub === 'test') return (await import('./policy-test.ts')).runPolicyTest(rest, io);
    if (sub === 'explain') return (await import('./policy-explain.ts')).runPolicyExplain(rest, io);
    throw usageError(`unknown subcommand ${JSON.stringify(sub)}: test or explain`);
  });
}
