import { describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../run.ts';
import { OPERATOR_FLAGS, parseOperatorFlags } from './operator-flags.ts';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env: {},
    childEnv: {},
    untilShutdown: () => Promise.resolve(),
  };
  return { cli, out, err };
}

describe('portcullis operator flags', () => {
  it('documents every flag in --help', async () => {
    const { cli, out } = io();
    expect(await runCli(['operator', '--help'], cli)).toBe(0);
    for (const flag of Object.keys(OPERATOR_FLAGS)) expect(out.join('')).toContain(`--${flag}`);
  });

  it('takes a comma-separated, repeatable namespace list, each name once', () => {
    const parsed = parseOperatorFlags({ namespace: ['a,b', 'c', 'b'] });
    expect(parsed.ok && parsed.flags.namespaces).toEqual(['a', 'b', 'c']);
    const none = parseOperatorFlags({});
    expect(none.ok && none.flags.namespaces).toEqual([]);
  });

  it('refuses a namespace list with an empty or invalid name', () => {
    for (const namespace of [['a,,b'], ['a,'], ['Team-A'], ['a/b'], ['x'.repeat(64)]]) {
      const parsed = parseOperatorFlags({ namespace });
      expect(parsed.ok, namespace[0]).toBe(false);
    }
  });

  it('defaults the Lease to 15 s, 10 s renew deadline, 2 s retry', () => {
    const parsed = parseOperatorFlags({});
    expect(parsed.ok && parsed.flags.lease).toEqual({
      durationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
  });

  it('takes Lease timings as durations', () => {
    const parsed = parseOperatorFlags({
      'lease-duration': '4s',
      'lease-renew-deadline': '3s',
      'lease-retry-period': '500ms',
    });
    expect(parsed.ok && parsed.flags.lease).toEqual({
      durationSeconds: 4,
      renewDeadlineMs: 3_000,
      retryPeriodMs: 500,
    });
  });

  it('refuses Lease timings out of order, malformed or not in whole seconds', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'lease-duration': '10s' }, /renew-deadline must be shorter than --lease-duration/],
      [{ 'lease-renew-deadline': '2s' }, /retry-period must be shorter than --lease-renew-deadline/],
      [{ 'lease-duration': '15' }, /--lease-duration must be a duration/],
      [{ 'lease-retry-period': '0s' }, /--lease-retry-period must be a duration/],
      [{ 'lease-duration': '15500ms' }, /whole seconds/],
    ];
    for (const [values, message] of cases) {
      const parsed = parseOperatorFlags(values);
      expect(parsed.ok, JSON.stringify(values)).toBe(false);
      if (!parsed.ok) expect(parsed.message).toMatch(message);
    }
  });

  it('refuses a worker count that is not a positive integer', () => {
    for (const workers of ['0', '-1', '1.5', 'many']) expect(parseOperatorFlags({ workers }).ok).toBe(false);
    const parsed = parseOperatorFlags({ workers: '16' });
    expect(parsed.ok && parsed.flags.workers).toBe(16);
  });

  it('exits 2 on invalid flags before touching the cluster', async () => {
    const { cli, err } = io();
    expect(await runCli(['operator', '--lease-duration', '2s'], cli)).toBe(2);
    expect(err.join('')).toMatch(/--lease-renew-deadline must be shorter than --lease-duration/);
  });
});
