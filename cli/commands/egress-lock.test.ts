import { describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../run.ts';

/** Runs the command in process; PATH comes from `env`, so a PATH without iptables proves the failure path. */
async function capture(args: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(['egress-lock', ...args], {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env,
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  });
  return { code, out, err };
}

describe('portcullis egress-lock', () => {
  it('documents its flags, what it installs, and its exit codes', async () => {
    const { code, out } = await capture(['--help']);
    expect(code).toBe(EXIT.ok);
    for (const text of [
      '--sidecar-uid',
      '--ipv6',
      '--backend',
      '--dry-run',
      'PORTCULLIS_EGRESS',
      'Exit codes',
    ]) {
      expect(out).toContain(text);
    }
    expect((await runCliHelp()).includes('egress-lock')).toBe(true);
  });

  it('prints the rules for a fresh pod on --dry-run, IPv4 and IPv6, and touches nothing', async () => {
    const { code, out } = await capture(['--sidecar-uid', '65532', '--dry-run'], { PATH: '/nonexistent' });
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('# ipv4: iptables-restore --noflush\n*filter\n');
    expect(out).toContain('# ipv6: ip6tables-restore --noflush\n*filter\n');
    expect(out).toContain('-A PORTCULLIS_EGRESS -m owner --uid-owner 65532 -j RETURN');
    expect(out).toContain('-A PORTCULLIS_EGRESS -d ::1/128 -o lo -j RETURN');
    const v4only = await capture(['--sidecar-uid', '7', '--dry-run', '--ipv6', 'off', '--backend', 'legacy']);
    expect(v4only.out).toContain('# ipv4: iptables-legacy-restore --noflush');
    expect(v4only.out).not.toContain('ipv6');
  });

  it('refuses a missing or unusable sidecar UID and unknown modes as usage errors', async () => {
    for (const args of [
      [],
      ['--sidecar-uid', '0'],
      ['--sidecar-uid', 'nobody'],
      ['--sidecar-uid', '1e3'],
      ['--sidecar-uid', '4294967295'],
      ['--sidecar-uid', '1', '--ipv6', 'maybe'],
      ['--sidecar-uid', '1', '--backend', 'pf'],
      ['--sidecar-uid', '1', '--frobnicate'],
    ]) {
      const { code, err } = await capture(args);
      expect(code, args.join(' ')).toBe(EXIT.usage);
      expect(err).toContain("Run 'portcullis egress-lock --help'");
    }
  });

  it('fails closed with a typed error when iptables is not installed', async () => {
    const { code, out, err } = await capture(['--sidecar-uid', '65532', '--ipv6', 'off'], {
      PATH: '/nonexistent',
    });
    expect(code).toBe(EXIT.failure);
    expect(out).toBe('');
    expect(err).toMatch(/^portcullis egress-lock: iptables_missing: iptables-save not found on PATH/);
  });
});

async function runCliHelp(): Promise<string> {
  let out = '';
  await runCli(['--help'], {
    out: (t) => (out += t),
    err: () => {},
    env: {},
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  });
  return out;
}
