import { parseArgs } from 'node:util';

/** What the contract's command line gives every SDK server: `--port P --log FILE`. */
export interface ServerArgs {
  readonly port: number;
  readonly logPath: string;
}

export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: { port: { type: 'string' }, log: { type: 'string' } },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65_535 || values.log === undefined) {
    throw new Error('usage: --port P --log FILE');
  }
  return { port, logPath: values.log };
}

/** The one line on stdout that tells the harness the server accepts connections. */
export function announceReady(port: number): void {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` })}\n`);
}

/**
 * Runs `close` and exits on SIGTERM, SIGINT, or EOF on stdin: the harness holds our stdin as a pipe,
 * so a harness that dies, however it dies, takes us with it.
 */
export function exitOnStdinEndOrSignal(close: () => Promise<void>): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    // A hung close must not keep the process alive: the harness waits for our exit.
    setTimeout(() => process.exit(0), 2_000).unref();
    void close().finally(() => process.exit(0));
  };
  process.stdin.once('end', stop).resume();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
