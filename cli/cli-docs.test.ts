import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KILL_HELP, RELEASE_HELP } from './commands/kill-help.ts';
import { POLICY_HELP } from './commands/policy-command.ts';
import { POLICY_EXPLAIN_HELP } from './commands/policy-explain.ts';
import { POLICY_TEST_HELP } from './commands/policy-test.ts';
import { STATUS_HELP } from './commands/status-flags.ts';

/** docs/cli.md quotes each command's --help: a changed help text must be copied there too. */
describe('docs/cli.md', () => {
  const docs = readFileSync(join(import.meta.dirname, '../docs/cli.md'), 'utf8');
  it.each([
    ['kill', KILL_HELP],
    ['release', RELEASE_HELP],
    ['status', STATUS_HELP],
    ['policy', POLICY_HELP],
    ['policy test', POLICY_TEST_HELP],
    ['policy explain', POLICY_EXPLAIN_HELP],
  ])('holds the help of %s', (_command, help) => {
    expect(docs).toContain(help.trimEnd());
  });
});
