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

  it('prints the version, the commit and the API version', async () => {
    expect((await capture(['version'])).out).toMatch(
      /^portcullis \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown), API portcullis\.dev\/v1alpha1, /,
    );
  });

  it('refuses unknown commands with a usage exit code', async () => {
    const { code, err } = await capture(['frobnicate']);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain("Run 'portcullis --help'");
  });
});

describe('portcullis sidecar', () => {
  it('documents its flags and exit codes', async () => {
    const { code, out } = await capture(['sidecar', '--help']);
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('--upstream-command');
    expect(out).toContain('PORTCULLIS_');
    expect(out).toContain('Exit codes');
  });

  it('refuses to listen beyond loopback without a Host allowlist (DNS rebinding)', async () => {
    const { code, err } = await capture([
      'sidecar',
      '--listen',
      '0.0.0.0:0',
      '--admin-listen',
      '127.0.0.1:0',
      '--policy',
      'test/fixtures/policies/billing',
      '--upstream',
      'http://127.0.0.1:9/mcp',
    ]);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('--allowed-hosts');
  });

  it('refuses a non-loopback upstream and names the flag', async () => {
    const { code, err } = await capture([
      'sidecar',
      '--policy',
      'x',
      '--upstream',
      'http://10.0.0.1:8080/mcp',
    ]);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('loopback');
  });

  it('refuses unknown flags with a usage exit code', async () => {
    const { code, err } = await capture(['sidecar', '--frobnicate']);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('portcullis sidecar --help');
  });
});
