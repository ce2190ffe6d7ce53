import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../run.ts';
import { collectorConfigFromArgs } from './collector.ts';

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env,
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  };
  return { cli, out, err };
}

describe('portcullis collector', () => {
  it('documents every flag in --help', async () => {
    const { cli, out } = io();
    expect(await runCli(['collector', '--help'], cli)).toBe(0);
    for (const flag of [
      '--listen',
      '--metrics-listen',
      '--store',
      '--sqlite-path',
      '--postgres-url',
      '--postgres-url-file',
      '--auth',
      '--audience',
      '--jwks-url',
      '--kubeconfig',
      '--query-auth',
      '--export',
      '--otlp-endpoint',
      '--retention',
      '--log-level',
      'Exit codes',
    ]) {
      expect(out.join('')).toContain(flag);
    }
  });

  it('is listed in the top-level help', async () => {
    const { cli, out } = io();
    await runCli(['--help'], cli);
    expect(out.join('')).toContain('collector');
  });

  it('exits 2 on an unknown flag or an invalid configuration', async () => {
    const unknown = io();
    expect(await runCli(['collector', '--bogus'], unknown.cli)).toBe(2);
    const open = io();
    expect(await runCli(['collector', '--query-auth', 'none', '--listen', '0.0.0.0:8080'], open.cli)).toBe(2);
    expect(open.err.join('')).toContain('loopback');
  });

  it('takes flags over PORTCULLIS_* variables', () => {
    expect(
      collectorConfigFromArgs(['--store', 'postgres'], {
        PORTCULLIS_STORE: 'sqlite',
        PORTCULLIS_EXPORT: 'stdout, otlp',
        PORTCULLIS_POSTGRES_URL_FILE: '/run/secrets/url',
      }),
    ).toEqual({ store: 'postgres', export: ['stdout', 'otlp'], postgresUrlFile: '/run/secrets/url' });
  });
});
