import { EXIT } from './io.ts';

/**
 * Why a people-facing command stopped, and the exit code scripts see: `usage` (2) for what the caller
 * wrote (flags, a target, an input file), `failure` (1) for what the command found (no credentials, not
 * found, forbidden, unreachable). The message is one line, printed after "portcullis <command>: ".
 */
export class CliError extends Error {
  readonly exitCode: (typeof EXIT)['usage'] | (typeof EXIT)['failure'];

  constructor(kind: 'usage' | 'failure', message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'CliError';
    this.exitCode = EXIT[kind];
  }
}

export const usageError = (message: string) => new CliError('usage', message);
export const failure = (message: string, cause?: unknown) => new CliError('failure', message, cause);

/**
 * Runs a command body and turns its outcome into an exit code: CliErrors print their message (usage
 * errors with where to find help), anything else is an unexpected failure printed as such.
 */
export async function exitCodeOf(
  command: string,
  err: (text: string) => void,
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof CliError)) {
      err(`portcullis ${command}: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    const usage = error.exitCode === EXIT.usage ? `\nRun 'portcullis ${command} --help' for usage.` : '';
    err(`portcullis ${command}: ${error.message}${usage}\n`);
    return error.exitCode;
  }
}
