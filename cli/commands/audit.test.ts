import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { testEvents } from '../../collector/store/test-events.ts';
import { runCli, type CliIo } from '../run.ts';
import { describeScope, runAudit } from './audit.ts';

const TOKEN = 'do-not-print-me';
const NOW = Date.parse('2026-02-10T12:00:00.000Z');

function io(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env: { PORTCULLIS_COLLECTOR_URL: 'http://127.0.0.1:8080', PORTCULLIS_TOKEN: TOKEN, ...env },
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
  return { cli, stdout: () => out.join(''), stderr: () => err.join('') };
}

/** A collector answering every GET with `pages` in turn, recording the URLs asked. */
function collector(pages: { status?: number; body: unknown }[]) {
  const urls: URL[] = [];
  const fetch = (async (url: URL) => {
    urls.push(url);
    const page = pages[Math.min(urls.length - 1, pages.length - 1)]!;
    return new Response(JSON.stringify(page.body), { status: page.status ?? 200 });
  }) as unknown as typeof globalThis.fetch;
  return { deps: { now: () => NOW, fetch }, urls };
}

describe('portcullis audit', () => {
  it('documents every flag and the exit codes in --help, and is listed in the top-level help', async () => {
    const help = io();
    expect(await runCli(['audit', '--help'], help.cli)).toBe(0);
    for (const flag of [
      '--user',
      '--agent',
      '--tenant',
      '--tool',
      '--server',
      '-n, --namespace',
      '-A, --all-namespaces',
      '--decision',
      '--kind',
      '--since',
      '--until',
      '--limit',
      '--order',
      '-o, --output',
      '-f, --follow',
      '--interval',
      '--collector',
      'PORTCULLIS_COLLECTOR_URL',
      '--token',
      'PORTCULLIS_TOKEN',
      '--token-file',
      '--kubeconfig',
      '--context',
      'mcpservers/audit',
      'kubectl create token',
      'Exit codes: 0',
    ]) {
      expect(help.stdout()).toContain(flag);
    }
    const top = io();
    await runCli(['--help'], top.cli);
    expect(top.stdout()).toMatch(/^ {2}audit {7}Query the audit trail/m);
  });

  it('answers the README question with one request and a table', async () => {
    const events = testEvents('sc', 1, 2, { tool: 'read_invoice', tenant: 'acme' });
    const { deps, urls } = collector([{ body: { events } }]);
    const { cli, stdout, stderr } = io();
    expect(
      await runAudit(
        ['--tool', 'read_invoice', '--tenant', 'acme', '--since', '7d', '-n', 'finance'],
        cli,
        deps,
      ),
    ).toBe(0);
    expect(urls).toHaveLength(1);
    expect(Object.fromEntries(urls[0]!.searchParams)).toEqual({
      tool: 'read_invoice',
      tenant: 'acme',
      since: '2026-02-03T12:00:00.000Z',
      namespace: 'finance',
      order: 'desc',
      limit: '100',
    });
    expect(stdout().split('\n')).toHaveLength(4); // header, two rows, final newline
    expect(stderr()).toBe('');
  });

  it('pages through the cursor up to --limit and prints json', async () => {
    const all = testEvents('sc', 1, 2500);
    const { deps, urls } = collector([
      { body: { events: all.slice(0, 1000), next: 'c1' } },
      { body: { events: all.slice(1000, 2000), next: 'c2' } },
      { body: { events: all.slice(2000, 2200), next: 'c3' } },
    ]);
    const { cli, stdout } = io();
    expect(await runAudit(['-A', '--limit', '2200', '-o', 'json'], cli, deps)).toBe(0);
    expect((JSON.parse(stdout()) as AuditEvent[]).map((e) => e.seq)).toEqual(
      all.slice(0, 2200).map((e) => e.seq),
    );
    expect(urls.map((u) => [u.searchParams.get('after'), u.searchParams.get('limit')])).toEqual([
      [null, '1000'],
      ['c1', '1000'],
      ['c2', '200'],
    ]);
    expect(urls[0]?.searchParams.has('namespace')).toBe(false);
  });

  it('says on stderr that nothing matched, and what was asked', async () => {
    const { deps } = collector([{ body: { events: [] } }]);
    const { cli, stdout, stderr } = io();
    expect(await runAudit(['-n', 'finance', '--tool', 'read_invoice', '--since', '1h'], cli, deps)).toBe(0);
    expect(stdout()).toBe('');
    expect(stderr()).toBe(
      'No audit events found in namespace finance with tool="read_invoice" since 2026-02-10T11:00:00.000Z.\n',
    );
    const json = io();
    expect(await runAudit(['-n', 'finance', '-o', 'json'], json.cli, deps)).toBe(0);
    expect(json.stdout()).toBe('[]\n');
    expect(json.stderr()).toBe('');
  });

  it('exits 2 without a collector address, and on invalid flags', async () => {
    const missing = io({ PORTCULLIS_COLLECTOR_URL: '' });
    expect(await runAudit([], missing.cli, collector([]).deps)).toBe(2);
    expect(missing.stderr()).toContain('--collector URL or PORTCULLIS_COLLECTOR_URL');
    const conflicting = io();
    expect(await runAudit(['-n', 'a', '-A'], conflicting.cli, collector([]).deps)).toBe(2);
    expect(conflicting.stderr()).toContain("Run 'portcullis audit --help'");
  });

  it('exits 1 on 401/403 and 2 on 400, with the collector message, never printing the token', async () => {
    const cases = [
      [401, 'invalid_token', 1],
      [403, 'forbidden', 1],
      [400, 'invalid_query', 2],
    ] as const;
    for (const [status, code, exit] of cases) {
      const { deps } = collector([{ status, body: { error: { code, message: `refused ${code}` } } }]);
      const { cli, stdout, stderr } = io();
      expect(await runAudit(['-n', 'finance'], cli, deps)).toBe(exit);
      expect(stderr()).toContain(`refused ${code} (${code})`);
      expect(stdout() + stderr()).not.toContain(TOKEN);
    }
  });

  it('warns before sending a token over plain http beyond loopback', async () => {
    const { deps } = collector([{ body: { events: [] } }]);
    const remote = io({ PORTCULLIS_COLLECTOR_URL: 'http://collector.example.com:8080' });
    await runAudit(['-A'], remote.cli, deps);
    expect(remote.stderr()).toContain(
      'warning: sending the bearer token unencrypted to collector.example.com:8080',
    );
    const local = io();
    await runAudit(['-A'], local.cli, deps);
    expect(local.stderr()).not.toContain('warning');
  });

  it('stops a query on Ctrl-C (untilShutdown) with exit 1', async () => {
    const fetch = ((_url: URL, init: RequestInit) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      )) as unknown as typeof globalThis.fetch;
    const { cli, stderr } = io();
    const interrupted = {
      ...cli,
      untilShutdown: () => new Promise<void>((resolve) => setTimeout(resolve, 20)),
    };
    expect(await runAudit(['-A'], interrupted, { now: () => NOW, fetch })).toBe(1);
    expect(stderr()).toBe('portcullis audit: interrupted\n');
  });

  it('describes the scope of a query', () => {
    expect(describeScope(undefined, {})).toBe('in any namespace');
    expect(describeScope('ops', { user: 'alice', decision: 'denied', until: '2026-01-01T00:00:00Z' })).toBe(
      'in namespace ops with user="alice", decision="denied" until 2026-01-01T00:00:00Z',
    );
  });
});
