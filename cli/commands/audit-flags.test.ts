import { describe, expect, it } from 'vitest';
import { AuditError } from './audit-errors.ts';
import { parseAuditArgs, type AuditOptions } from './audit-flags.ts';
import { parseTimeFlag } from './audit-time.ts';

const NOW = Date.parse('2026-02-10T12:00:00.000Z');
const URL_ENV = { PORTCULLIS_COLLECTOR_URL: 'http://127.0.0.1:8080' };

function parse(args: string[], env: Record<string, string> = URL_ENV): AuditOptions {
  const options = parseAuditArgs(args, env, NOW);
  if (options === 'help') throw new Error('unexpected help');
  return options;
}

function usageMessage(args: string[], env: Record<string, string> = URL_ENV): string {
  try {
    parseAuditArgs(args, env, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(AuditError);
    expect((error as AuditError).exitCode).toBe(2);
    return (error as AuditError).message;
  }
  throw new Error(`accepted: ${args.join(' ')}`);
}

describe('--since and --until', () => {
  it.each([
    ['30m', '2026-02-10T11:30:00.000Z'],
    ['24h', '2026-02-09T12:00:00.000Z'],
    ['7d', '2026-02-03T12:00:00.000Z'],
    ['1h30m', '2026-02-10T10:30:00.000Z'],
    ['90s', '2026-02-10T11:58:30.000Z'],
  ])('takes the duration %s as that long ago', (text, instant) => {
    expect(parseTimeFlag(text, NOW)).toBe(instant);
    expect(parse(['--since', text]).filters.since).toBe(instant);
  });

  it.each(['2026-01-31T09:00:00Z', '2026-01-31T09:00:00.123456+01:00', '2026-01-31T09:00:00-05:30'])(
    'passes the RFC 3339 time %s on unchanged',
    (text) => expect(parse(['--until', text]).filters.until).toBe(text),
  );

  it.each(['yesterday', '2026-01-31', '2026-01-31T09:00:00', '7 d', '-1h', '7w', ''])(
    'refuses %j',
    (text) => {
      expect(parseTimeFlag(text, NOW)).toBeUndefined();
      expect(usageMessage(['--since', text])).toMatch(/since/);
    },
  );

  it('refuses a duration too long for a date', () => {
    expect(parseTimeFlag('99999999999999d', NOW)).toBeUndefined();
  });

  it('wants --since before --until', () => {
    expect(usageMessage(['--since', '1h', '--until', '2h'])).toContain('--since must be before --until');
    expect(parse(['--since', '2h', '--until', '1h']).filters).toEqual({
      since: '2026-02-10T10:00:00.000Z',
      until: '2026-02-10T11:00:00.000Z',
    });
  });
});

describe('filters and namespaces', () => {
  it('maps the question of the README onto the query', () => {
    const options = parse(['--tool', 'read_invoice', '--tenant', 'acme', '--since', '7d']);
    expect(options.filters).toEqual({
      tool: 'read_invoice',
      tenant: 'acme',
      since: '2026-02-03T12:00:00.000Z',
    });
    expect(options).toMatchObject({
      namespace: { kind: 'default' },
      limit: 100,
      order: 'desc',
      output: 'table',
    });
  });

  it('takes every filter', () => {
    const options = parse([
      '--user=alice',
      '--agent',
      'copilot',
      '--server',
      'billing',
      '--decision',
      'would_deny',
      '--kind',
      'egress',
      '-n',
      'finance',
    ]);
    expect(options.filters).toEqual({
      user: 'alice',
      agent: 'copilot',
      server: 'billing',
      decision: 'would_deny',
      kind: 'egress',
    });
    expect(options.namespace).toEqual({ kind: 'named', name: 'finance' });
  });

  it('reads -A as no namespace filter and refuses it with -n', () => {
    expect(parse(['-A']).namespace).toEqual({ kind: 'all' });
    expect(parse(['--all-namespaces']).namespace).toEqual({ kind: 'all' });
    expect(usageMessage(['-n', 'finance', '-A'])).toContain('-n/--namespace and -A/--all-namespaces');
  });

  it.each([
    [['--decision', 'maybe'], 'decision'],
    [['--kind', 'everything'], 'kind'],
    [['--tool', ''], 'tool'],
    [['--server', 'x'.repeat(64)], 'server'],
    [['--limit', '0'], 'limit'],
    [['--limit', '100001'], 'limit'],
    [['--limit', 'ten'], 'limit'],
    [['--order', 'newest'], 'order'],
    [['-o', 'xml'], 'output'],
    [['--collector', 'ftp://collector'], 'collector'],
    [['--collector', 'not a url'], 'collector'],
  ])('refuses %j', (args, field) => expect(usageMessage(args)).toContain(field));

  it('refuses unknown flags and positional arguments', () => {
    expect(usageMessage(['--bogus'])).toContain('--bogus');
    expect(usageMessage(['read_invoice'])).toContain('read_invoice');
  });

  it('recognises -h', () => expect(parseAuditArgs(['-h'], {}, NOW)).toBe('help'));
});

describe('output and follow', () => {
  it('takes -o and --limit', () => {
    expect(parse(['-o', 'jsonl', '--limit', '2500', '--order', 'asc'])).toMatchObject({
      output: 'jsonl',
      limit: 2500,
      order: 'asc',
    });
  });

  it('follows oldest first, every 2s unless told', () => {
    expect(parse(['-f'])).toMatchObject({ follow: true, order: 'asc', intervalMs: 2000 });
    expect(parse(['--follow', '--interval', '500ms']).intervalMs).toBe(500);
  });

  it.each([
    [['-f', '--until', '1h'], '--until'],
    [['-f', '--limit', '10'], '--limit'],
    [['-f', '--order', 'desc'], '--order'],
    [['-f', '-o', 'json'], '-o jsonl'],
    [['-f', '--interval', '10ms'], 'interval'],
    [['--interval', '5s'], '--interval applies only with --follow'],
  ])('refuses %j', (args, text) => expect(usageMessage(args)).toContain(text));
});

describe('collector and credentials', () => {
  it('takes the collector from the flag over PORTCULLIS_COLLECTOR_URL', () => {
    expect(parse([]).collectorUrl?.href).toBe('http://127.0.0.1:8080/');
    expect(parse(['--collector', 'https://audit.example.com/base']).collectorUrl?.href).toBe(
      'https://audit.example.com/base',
    );
    expect(parse([], {}).collectorUrl).toBeUndefined();
  });

  it('takes the token from --token, --token-file or PORTCULLIS_TOKEN, flags first', () => {
    const env = { ...URL_ENV, PORTCULLIS_TOKEN: 'from-env' };
    expect(parse([], env).credentials).toEqual({ token: 'from-env' });
    expect(parse(['--token', 'from-flag'], env).credentials).toEqual({ token: 'from-flag' });
    expect(parse(['--token-file', '/t'], env).credentials).toEqual({ tokenFile: '/t' });
    expect(parse(['--kubeconfig', '/k', '--context', 'c']).credentials).toEqual({
      kubeconfig: '/k',
      context: 'c',
    });
    expect(usageMessage(['--token', 'a', '--token-file', '/t'])).toContain('--token and --token-file');
  });
});
