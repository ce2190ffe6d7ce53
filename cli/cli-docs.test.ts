import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from './run.ts';

/**
 * docs/cli.md quotes every command's --help: a changed help text must be copied there too. The help is
 * taken from the command itself (runCli), so a new flag cannot slip past the reference.
 */
const COMMANDS = [
  [],
  ['kill'],
  ['release'],
  ['status'],
  ['policy'],
  ['policy', 'test'],
  ['policy', 'explain'],
  ['audit'],
  ['sidecar'],
  ['operator'],
  ['collector'],
  ['egress-lock'],
  ['demo'],
  ['dev'],
  ['version'],
];

describe('docs/cli.md', () => {
  const docs = readFileSync(join(import.meta.dirname, '../docs/cli.md'), 'utf8');
  it.each(COMMANDS.map((words) => [words.join(' ') || '(none)', words]))(
    'holds the help of portcullis %s',
    async (_name, words) => {
      let out = '';
      const io: CliIo = {
        out: (text) => void (out += text),
        err: () => undefined,
        env: {},
        childEnv: {},
        untilShutdown: () => new Promise(() => undefined),
      };
      const code = await runCli([...words, '--help'], io);
      expect(code).toBe(0);
      const title = `## \`portcullis${words.length > 0 ? ` ${words.join(' ')}` : ''}\``;
      expect(docs).toContain(title);
      expect(docs).toContain(out.trimEnd());
    },
  );
});
