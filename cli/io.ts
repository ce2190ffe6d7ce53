/** What a command may touch of the outside world; main.ts supplies the real process, tests a fake. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The environment a spawned stdio MCP server gets: deliberately minimal. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Resolves on SIGTERM/SIGINT (long-running commands stop cleanly then). */
  untilShutdown(): Promise<void>;
}

/** Exit codes, documented in --help: scripts and CI pipelines depend on them. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
