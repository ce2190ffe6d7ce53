import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { EXIT, runCli } from '../run.ts';
import { formatVersion, versionReport } from './version.ts';

const head = execFileSync('git', ['-C', join(import.meta.dirname, '../..'), 'rev-parse', 'HEAD'], {
  encoding: 'utf8',
}).trim();

async function capture(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: { PATH: process.env['PATH'] },
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  });
  return { code, out, err };
}

describe('portcullis version', () => {
  it('prints the version, the commit it was built from, the API version and Node.js', async () => {
    const { code, out } = await capture(['version']);
    expect(code).toBe(EXIT.ok);
    expect(out).toMatch(
      new RegExp(
        `^portcullis ${packageJson.version.replaceAll('.', '\\.')} \\(commit ${head.slice(0, 12)}(-dirty)?, ` +
          `API portcullis\\.dev/v1alpha1, Node\\.js v\\d+\\.\\d+\\.\\d+\\)\\n$`,
      ),
    );
  });

  it('answers --version the same way', async () => {
    expect((await capture(['--version'])).out).toBe((await capture(['version'])).out);
  });

  it('gives the full commit as JSON for scripts and bug reports', async () => {
    const { code, out } = await capture(['version', '-o', 'json']);
    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(out)).toEqual({
      version: packageJson.version,
      commit: head,
      dirty: expect.any(Boolean),
      commitSource: 'git',
      apiVersion: 'portcullis.dev/v1alpha1',
      node: process.version,
    });
  });

  it('says "unknown" for a build that recorded no commit', () => {
    const report = versionReport(
      { version: '1.2.3', commit: 'unknown', dirty: false, source: 'none' },
      'v24.0.0',
    );
    expect(formatVersion(report)).toBe(
      'portcullis 1.2.3 (commit unknown, API portcullis.dev/v1alpha1, Node.js v24.0.0)\n',
    );
  });

  it('refuses other output formats and unknown flags with a usage exit code', async () => {
    const yaml = await capture(['version', '-o', 'yaml']);
    expect(yaml.code).toBe(EXIT.usage);
    expect(yaml.err).toContain('--output must be text or json');
    const flag = await capture(['version', '--short']);
    expect(flag.code).toBe(EXIT.usage);
    expect(flag.err).toContain("Run 'portcullis version --help'");
    expect((await capture(['--version', 'extra'])).code).toBe(EXIT.usage);
  });
});
