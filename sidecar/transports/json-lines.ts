import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';

/**
 * The stdio transport's framing: one JSON-RPC message per line. Lines that are not JSON objects are
 * logged (briefly) and skipped; a server that prints a banner must not take the channel down.
 */
export function readJsonLines(
  input: Readable,
  log: Logger,
  listeners: readonly ((message: Record<string, unknown>) => void)[],
): void {
  createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      log.warn({ line: line.slice(0, 200) }, 'stdio server wrote a line that is not JSON; ignored');
      return;
    }
    if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
      for (const listener of listeners) listener(message as Record<string, unknown>);
    }
  });
}
