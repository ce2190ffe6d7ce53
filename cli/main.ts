#!/usr/bin/env node
// The `portcullis` command: the only place that touches the process.
import { enableCompileCache } from 'node:module';

// Cached bytecode halves start-up (about 0.8 s to 0.4 s for the sidecar): it matters for a sidecar
// restarting after a crash while its pod's callers wait. The cache lives in the temp directory.
enableCompileCache();

// No top-level await: the single executable (scripts/release/) bundles this file as CommonJS, the
// only format Node 24 runs in one. A rejection still ends the process with its stack and exit code 1.
void import('./run.ts').then(async ({ runCli }) => {
  let signalled = () => {};
  const shutdown = new Promise<void>((resolve) => (signalled = resolve));
  process.once('SIGTERM', signalled);
  process.once('SIGINT', signalled);
  process.exitCode = await runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    childEnv: {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      ...(process.env['HOME'] ? { HOME: process.env['HOME'] } : {}),
    },
    untilShutdown: () => shutdown,
  });
  // The command is done: from here a signal ends the process Node's way, even if something it started
  // still holds the event loop (a sidecar that failed to start must never outlive a SIGTERM).
  process.off('SIGTERM', signalled);
  process.off('SIGINT', signalled);
});
