#!/usr/bin/env node
// The `portcullis` command: the only place that touches the process.
import { runCli } from './run.ts';

const shutdown = new Promise<void>((resolve) => {
  process.once('SIGTERM', resolve);
  process.once('SIGINT', resolve);
});

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
