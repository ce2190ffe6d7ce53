import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { testEvent } from '../../collector/store/test-events.ts';
import { resultPrinter, sanitize, shortTime, streamPrinter, truncate } from './audit-format.ts';

const event = (seq: number, overrides: Partial<AuditEvent> = {}) =>
  testEvent('sc-1', seq, {
    server: { namespace: 'finance', name: 'billing' },
    tool: 'read_invoice',
    user: 'alice',
    agent: 'copilot',
    tenant: 'acme',
    ...overrides,
  });

function print(format: 'table' | 'wide' | 'json' | 'jsonl' | 'yaml', pages: AuditEvent[][]): string {
  let text = '';
  const printer = resultPrinter(format, (chunk) => (text += chunk));
  for (const page of pages) printer.add(page);
  printer.finish();
  return text;
}

describe('cells', () => {
  it('cuts long values to the width with an ellipsis, counting code points', () => {
    expect(truncate('read_invoice', 12)).toBe('read_invoice');
    expect(truncate('read_invoice', 8)).toBe('read_in…');
    expect(truncate('😀😀😀😀', 3)).toBe('😀😀…');
  });

  it('takes the teeth out of terminal control sequences and bidi overrides', () => {
    expect(sanitize('evil\u001b[2J\u001b]0;owned\u0007name')).toBe('evil?[2J?]0;owned?name');
    expect(sanitize('line\nbreak\ttab')).toBe('line break tab');
    expect(sanitize('admin\u202egnp.exe')).toBe('admin?gnp.exe');
  });

  it('shows times in UTC to the second', () => {
    expect(shortTime('2026-01-31T10:00:00.123456+01:00')).toBe('2026-01-31T09:00:00Z');
    expect(shortTime('garbage')).toBe('garbage');
  });
});

describe('table', () => {
  it('prints a header and one aligned line per event', () => {
    const text = print('table', [
      [event(1), event(2, { decision: 'denied', code: 'tenant_mismatch', reason: 'tenant acme not bound' })],
    ]);
    expect(text).toBe(
      [
        'TIME                  NAMESPACE/SERVER  TOOL          USER   AGENT    TENANT  DECISION  CODE/REASON',
        '2026-01-01T00:00:01Z  finance/billing   read_invoice  alice  copilot  acme    allowed   -',
        '2026-01-01T00:00:02Z  finance/billing   read_invoice  alice  copilot  acme    denied    tenant_mismatch: tenant acme not bound',
        '',
      ].join('\n'),
    );
  });

  it('sizes columns over every page and cuts values at the column cap', () => {
    const long = 'u'.repeat(60);
    const lines = print('table', [
      [event(1)],
      [event(2, { user: long, reason: 'r'.repeat(100), code: 'c' })],
    ]).split('\n');
    expect(lines[2]).toContain(`${'u'.repeat(23)}…`);
    expect(lines[2]).not.toContain('u'.repeat(24));
    expect(lines[2]?.endsWith(`c: ${'r'.repeat(36)}…`)).toBe(true);
    // The short row is padded to the long one's width.
    expect(lines[1]?.indexOf('copilot')).toBe(lines[2]?.indexOf('copilot'));
  });

  it('shows "-" for what an event does not have', () => {
    const egress = event(3, { kind: 'egress', method: 'egress' });
    delete egress.tool;
    delete egress.tenant;
    expect(print('table', [[egress]]).split('\n')[1]).toMatch(
      /finance\/billing +- +alice {2}copilot {2}- +allowed/,
    );
  });

  it('adds REQUEST, POLICY HASH and SEQ in wide', () => {
    const [header, row] = print('wide', [[event(7)]]).split('\n');
    expect(header).toMatch(/CODE\/REASON {2}REQUEST +POLICY HASH +SEQ$/);
    expect(row).toMatch(/req-sc-1-7 +sha256-policy {2}7$/);
  });

  it('prints nothing when nothing matched (the caller says so on stderr)', () => {
    expect(print('table', [])).toBe('');
    expect(print('wide', [[]])).toBe('');
  });

  it('prints a follow table line by line at the caps, header first', () => {
    let text = '';
    const printer = streamPrinter('table', (chunk) => (text += chunk));
    expect(text).toMatch(/^TIME {18}NAMESPACE\/SERVER {18}TOOL/);
    printer.add([event(1)]);
    printer.add([event(2, { user: 'x'.repeat(30) })]);
    const lines = text.split('\n');
    expect(lines[1]?.indexOf('alice')).toBe(lines[2]?.indexOf('x'));
    expect(lines[2]).toContain(`${'x'.repeat(23)}…`);
    expect(printer.count).toBe(2);
  });
});

describe('json and jsonl', () => {
  it('writes one JSON array over all pages, events exactly as returned', () => {
    const withExtra = { ...event(2), futureField: { kept: true } } as AuditEvent;
    const text = print('json', [[event(1)], [withExtra]]);
    expect(JSON.parse(text)).toEqual([event(1), withExtra]);
    expect(text.split('\n')).toHaveLength(5); // [, two events, ], and the final newline
  });

  it('writes [] when nothing matched', () => {
    expect(print('json', [])).toBe('[]\n');
  });

  it('writes one event per line in jsonl', () => {
    const text = print('jsonl', [[event(1), event(2)], [event(3)]]);
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as AuditEvent).seq),
    ).toEqual([1, 2, 3]);
    expect(print('jsonl', [])).toBe('');
  });
});

describe('yaml', () => {
  it('writes one sequence over all pages that parses back to the events, [] when nothing matched', () => {
    const hostile = event(2, { user: 'alice\n- injected: true', tool: 'yes' });
    const text = print('yaml', [[event(1)], [hostile, event(3)]]);
    expect(parseYaml(text)).toEqual([event(1), hostile, event(3)]);
    expect(print('yaml', [])).toBe('[]\n');
  });

  it('streams under --follow as the same growing sequence', () => {
    let text = '';
    const printer = streamPrinter('yaml', (chunk) => (text += chunk));
    printer.add([event(1)]);
    printer.add([event(2)]);
    expect((parseYaml(text) as AuditEvent[]).map((e) => e.seq)).toEqual([1, 2]);
  });
});
