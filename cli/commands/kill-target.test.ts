import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.ts';
import { parseKillTarget, parseToolList } from './kill-target.ts';

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

describe('parseKillTarget', () => {
  it.each([
    ['mcpserver/billing', { kind: 'mcpserver', name: 'billing' }],
    ['server/billing', { kind: 'mcpserver', name: 'billing' }],
    ['McpServers/billing', { kind: 'mcpserver', name: 'billing' }],
    ['mcpserver.portcullis.dev/billing', { kind: 'mcpserver', name: 'billing' }],
    ['toolpolicy/support.reads', { kind: 'toolpolicy', name: 'support.reads' }],
    ['toolpolicies/p', { kind: 'toolpolicy', name: 'p' }],
    ['namespace/finance', { kind: 'namespace', name: 'finance' }],
    ['ns/finance', { kind: 'namespace', name: 'finance' }],
  ])('reads %s', (text, target) => {
    expect(parseKillTarget(text, undefined)).toEqual(target);
  });

  it('takes tools on an McpServer, sorted and without duplicates', () => {
    expect(parseKillTarget('server/code', 'force_push, delete_repo,force_push')).toEqual({
      kind: 'mcpserver',
      name: 'code',
      tools: ['delete_repo', 'force_push'],
    });
  });

  it.each([
    ['billing', /TARGET must be/],
    ['/billing', /TARGET must be/],
    ['deployment/billing', /unknown kind "deployment"/],
    ['__proto__/billing', /unknown kind "__proto__"/],
    ['constructor/billing', /unknown kind "constructor"/],
    ['toString/billing', /unknown kind/],
    ['mcpserver/', /not a valid mcpserver name/],
    ['mcpserver/Billing', /not a valid mcpserver name/],
    ['mcpserver/a/b', /not a valid mcpserver name/],
    ['namespace/a.b', /not a valid namespace name/],
    [`mcpserver/${'a'.repeat(64)}`, /not a valid mcpserver name/],
  ])('refuses %s', (text, message) => {
    expect(usage(() => parseKillTarget(text, undefined))).toMatch(message);
  });

  it('refuses --tool on anything but an McpServer', () => {
    expect(usage(() => parseKillTarget('namespace/finance', 'x'))).toMatch(/only to mcpserver/);
    expect(usage(() => parseKillTarget('toolpolicy/p', 'x'))).toMatch(/only to mcpserver/);
  });
});

describe('parseToolList', () => {
  it.each([
    ['', /separated by/],
    ['a,,b', /separated by/],
    ['read_*', /not a tool name/],
    ['a b', /not a tool name/],
    ['x'.repeat(129), /not a tool name/],
  ])('refuses %j', (text, message) => {
    expect(usage(() => parseToolList(text))).toMatch(message);
  });

  it('bounds the list', () => {
    const many = Array.from({ length: 257 }, (_, i) => `t${i}`).join(',');
    expect(usage(() => parseToolList(many))).toMatch(/at most 256/);
  });
});
