import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.ts';
import { MAX_REASON, parseSwitchArgs } from './kill-flags.ts';

function usage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error('expected a usage error');
}

describe('parseSwitchArgs', () => {
  it('reads a kill with every flag', () => {
    expect(
      parseSwitchArgs('kill', [
        'server/code',
        '--tool',
        'b',
        '--tool',
        'a',
        '-n',
        'eng',
        '--reason',
        '  SEC-12 ',
        '--dry-run',
        '-o',
        'json',
        '--kubeconfig',
        '/k',
        '--context',
        'c',
      ]),
    ).toEqual({
      action: 'kill',
      target: { kind: 'mcpserver', name: 'code', tools: ['a', 'b'] },
      namespace: 'eng',
      reason: 'SEC-12',
      output: 'json',
      dryRun: true,
      kubeconfig: { kubeconfig: '/k', context: 'c' },
    });
  });

  it('needs no reason to release', () => {
    expect(parseSwitchArgs('release', ['namespace/finance'])).toMatchObject({
      action: 'release',
      target: { kind: 'namespace', name: 'finance' },
      output: 'text',
      dryRun: false,
    });
  });

  it('answers -h with help', () => {
    expect(parseSwitchArgs('kill', ['-h'])).toBe('help');
  });

  it.each([
    [['mcpserver/a'], /a reason is required/],
    [['mcpserver/a', '--reason', '   '], /must not be empty/],
    [['mcpserver/a', '--reason', 'line\nbreak'], /one line of printable text/],
    [['mcpserver/a', '--reason', 'bidi \u202e trick'], /one line of printable text/],
    [['mcpserver/a', '--reason', 'x'.repeat(MAX_REASON + 1)], /longer than/],
    [['--reason', 'x'], /which object\?/],
    [['mcpserver/a', 'mcpserver/b', '--reason', 'x'], /one TARGET at a time/],
    [['namespace/a', '-n', 'b', '--reason', 'x'], /not namespaced/],
    [['mcpserver/a', '-n', 'Bad_NS', '--reason', 'x'], /not a namespace name/],
    [['mcpserver/a', '--reason', 'x', '-o', 'table'], /-o must be json or yaml/],
    [['mcpserver/a', '--reason', 'x', '--force'], /Unknown option '--force'/],
  ])('refuses %j', (args, message) => {
    expect(usage(() => parseSwitchArgs('kill', args))).toMatch(message);
  });
});
