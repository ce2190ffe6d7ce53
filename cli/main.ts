#!/usr/bin/env node
// The `portcullis` command. Subcommands arrive with their components (sidecar, operator, collector, ...).
import { runCli } from './run.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
