import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { usageError } from './errors.ts';

/**
 * Strict flag parsing for every people-facing command: an unknown flag, a missing value or a stray
 * positional becomes a usage error (exit 2) with node's own precise message.
 */
export function parseFlags<const O extends ParseArgsOptionsConfig, const P extends boolean = false>(
  args: readonly string[],
  options: O,
  allowPositionals?: P,
  toError: (message: string) => Error = usageError,
) {
  try {
    return parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: (allowPositionals ?? false) as P,
    });
  } catch (error) {
    throw toError((error as Error).message);
  }
}
