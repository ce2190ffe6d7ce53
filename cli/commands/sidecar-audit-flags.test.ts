import { describe, expect, it } from 'vitest';
import { sidecarConfigSchema } from '../../sidecar/config.ts';
import { sidecarConfigFromArgs } from './sidecar.ts';

const base = ['--policy', 'test/fixtures/policies/billing', '--upstream', 'http://127.0.0.1:9/mcp'];

function parse(args: string[], env: Record<string, string> = {}) {
  const input = sidecarConfigFromArgs([...base, ...args], env);
  if (input === 'help') throw new Error('unexpected help');
  return sidecarConfigSchema.safeParse(input);
}

describe('sidecar --audit-linger-ms', () => {
  it('defaults to 100 ms, separate from the 50 ms WAL sync interval', () => {
    expect(parse([]).data).toMatchObject({ auditLingerMs: 100, auditSyncMs: 50 });
  });

  it('reads the flag and its environment variable (0 ships at once)', () => {
    expect(parse(['--audit-linger-ms', '0']).data?.auditLingerMs).toBe(0);
    expect(parse([], { PORTCULLIS_AUDIT_LINGER_MS: '250' }).data?.auditLingerMs).toBe(250);
  });

  it.each([['-1'], ['5001'], ['1.5'], ['soon'], ['']])('refuses %j', (value) => {
    const config = parse([`--audit-linger-ms=${value}`]);
    expect(config.success).toBe(false);
    expect(config.error?.issues[0]?.path).toEqual(['auditLingerMs']);
  });
});
