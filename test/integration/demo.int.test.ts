import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { PLAIN_STYLE } from '../../demo/output/style.ts';
import { runWalkthrough } from '../../demo/walkthrough/run.ts';

const repoRoot = join(import.meta.dirname, '../..');
const DEMO_DEADLINE_MS = 60_000;

/** `make demo`'s recipe: `node cli/main.ts demo` (after `make install`, which a test run has done). */
function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'cli/main.ts'), 'demo'],
      {
        cwd: repoRoot,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' },
        timeout: DEMO_DEADLINE_MS,
        maxBuffer: 8 * 1024 * 1024,
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
          stdout,
          stderr,
          ms: Date.now() - started,
        }),
    );
  });
}

async function refusesConnections(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2_000) }).then(
    () => false,
    () => true,
  );
}

describe('make demo', () => {
  it(
    'walks through every step with real calls, verifies each, and stops everything, within a minute',
    async () => {
      const run = await runDemo();
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.ms).toBeLessThan(DEMO_DEADLINE_MS);
      const out = run.stdout;
      // Prose is wrapped to the page width; content checks read it as one line.
      const flat = out.replace(/\s+/g, ' ');
      // Plain text on a pipe: no ANSI colours.
      expect(out.includes('\u001b[')).toBe(false);
      for (const heading of [
        '1/7  An allowed call',
        '2/7  A tool hidden and refused for the wrong user',
        '3/7  A cross-tenant read refused by argument binding',
        '4/7  A rate limit biting',
        '5/7  A concurrency cap biting',
        '6/7  The kill switch, engaged and released',
        '7/7  Who called what: the audit query',
      ])
        expect(out).toContain(heading);
      expect(flat).toContain('← 200 INV-1001 of acme: $125.00, paid');
      expect(flat).toContain('Authorization header: none');
      expect(flat).toMatch(/← 403 no_matching_rule: no rule allows read_invoice/);
      expect(flat).toMatch(/← 403 argument_binding: argument customer_id must equal the caller's tenant/);
      expect(flat).toMatch(/← 429 rate_limited: .*?\(Retry-After: \d+ s\)/);
      expect(flat).toMatch(/← 503 concurrency_limited: /);
      expect(flat).toContain('exported 1 statements of globex for 2026-01');
      expect(flat).toMatch(/← 403 killed: kill switch on McpServer billing: INC-4711/);
      expect(flat).toMatch(/kill switch engaged on server/);
      expect(flat).toMatch(/kill switch released on server/);
      expect(out).toMatch(/TIME\s+NAMESPACE\/SERVER\s+TOOL\s+USER\s+AGENT\s+TENANT\s+DECISION/);
      expect(out).toMatch(/demo\/billing\s+read_invoice\s+alice\s+support-copilot\s+acme\s+allowed/);
      expect(out).not.toContain('✗');
      expect(flat).toContain('✓ all 7 steps behaved as described');

      // Nothing is left listening: the stack was stopped.
      const endpoints = [...out.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map(([url]) => url);
      expect(endpoints.length).toBeGreaterThan(3);
      for (const url of new Set(endpoints)) expect(await refusesConnections(url)).toBe(true);
    },
    DEMO_DEADLINE_MS + 10_000,
  );

  it(
    'fails (and says which step) when Portcullis does not behave as a step describes',
    async () => {
      // The same walkthrough against a policy without the tenant binding: the cross-tenant read is
      // then allowed, which the walkthrough must catch, not print as a success.
      const policies = join(mkdtempSync(join(inject('scratchDir'), 'demo-policies-')), 'demo');
      cpSync(join(repoRoot, 'examples/demo'), policies, { recursive: true });
      const file = join(policies, 'policies.yaml');
      const original = readFileSync(file, 'utf8');
      const binding = [
        '      arguments:',
        '        - path: customer_id',
        '          from: tenant',
        '          mode: Require',
        '',
      ].join('\n');
      const unbound = original.replace(binding, '');
      expect(unbound).not.toBe(original);
      writeFileSync(file, unbound);

      let output = '';
      const result = await runWalkthrough({
        nodePath: process.execPath,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' },
        policySource: policies,
        out: (text) => void (output += text),
        style: PLAIN_STYLE,
        interrupted: new Promise(() => {}),
      });
      expect(result.passed).toBe(false);
      expect(result.failedSteps).toContain('A cross-tenant read refused by argument binding');
      expect(result.failedSteps).not.toContain('An allowed call');
      expect(output).toContain('✗ the call is refused with argument_binding');
      expect(output).toMatch(/✗ \d of 7 steps did not behave as described: .*A cross-tenant read/);
      // A failed run keeps its logs for a post-mortem; this test has read what it needs.
      const kept = /are kept in (\S+)/.exec(output)?.[1];
      expect(kept).toBeDefined();
      rmSync(kept!, { recursive: true, force: true });
    },
    DEMO_DEADLINE_MS + 10_000,
  );
});
