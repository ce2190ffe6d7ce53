#!/usr/bin/env node
// The `portcullis` command: the only place that touches the process.
import { enableCompileCache } from 'node:module';

// Cached bytecode halves start-up (about 0.8 s to 0.4 s for the sidecar): it matters for a sidecar
// restarting after a crash while its pod's callers wait. The cache lives in the temp directory.
enableCompileCache();

// No top-level await: the single executable (scripts/release/) bundles this file as CommonJS, the
// only format Node 24 runs in one. A rejection still ends the process with its stack and exit code 1.
void import('./run.ts').then(async ({ runCli }) => {
  const { promise: shutdown, resolve: signalled } = Promise.withResolvers<void>();
  process.once('SIGTERM', signalled);
  process.once('SIGINT', signalled);
  const code = await runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    childEnv: {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      ...(process.env['HOME'] ? { HOME: process.env['HOME'] } : {}),
    },
    untilShutdown: () => shutdown,
  });
  // A command that failed ends the process, whatever it had started when it failed (a sidecar whose WAL
  // or port is unusable must exit so the kubelet restarts it, not linger beside a stdio server it spawned).
  // The log's buffered lines are flushed on exit (pino); the reason went to stderr, which is synchronous.
  if (code !== 0) process.exit(code);
  process.exitCode = code;
  // Done: from here a signal ends the process Node's way, even if something still holds the event loop.
  process.off('SIGTERM', signalled);
  process.off('SIGINT', signalled);
});
