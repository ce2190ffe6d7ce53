import { describe, expect, it } from 'vitest';
import { EXIT, runCli } from './run.ts';

async function capture(args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: {},
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  });
  return { code, out, err };
}

describe('portcullis CLI', () => {
  it('prints help with exit codes', async () => {
    const { code, out } = await capture(['--help']);
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('Exit codes:');
  });

  it('prints the version and API version', async () => {
    expect((await capture(['version'])).out).toMatch(
      /^portcullis \d+\.\d+\.\d+ \(API portcullis\.dev\/v1alpha1\)\n$/,
    );
  });

  it('refuses unknown commands with a usage exit code', async () => {
    const { code, err } = await capture(['frobnicate']);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain("Run 'portcullis --help'");
  });
});
