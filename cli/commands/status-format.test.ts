import { describe, expect, it } from 'vitest';
import {
  age,
  driftCell,
  renderStatusTable,
  servedCell,
  toolsCell,
  type ServerObject,
} from './status-format.ts';

const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason = 'R', message = 'm') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});

const server = (
  fields: Partial<ServerObject> & { annotations?: Record<string, string> } = {},
): ServerObject => ({
  metadata: {
    name: 'billing',
    namespace: 'finance',
    ...(fields.annotations ? { annotations: fields.annotations } : {}),
  },
  ...(fields.status ? { status: fields.status } : {}),
});

describe('status cells', () => {
  it('ages like kubectl', () => {
    const now = Date.parse('2026-01-10T00:00:00Z');
    expect(age('2026-01-09T23:59:15Z', now)).toBe('45s');
    expect(age('2026-01-09T23:00:00Z', now)).toBe('60m');
    expect(age('2026-01-09T00:00:00Z', now)).toBe('24h');
    expect(age('2026-01-01T00:00:00Z', now)).toBe('9d');
    expect(age('2020-01-01T00:00:00Z', now)).toBe('6y');
    expect(age('not a time', now)).toBeUndefined();
    expect(age('2026-01-11T00:00:00Z', now)).toBe('0s'); // clock skew: never negative
  });

  it('marks served bundles that are not the compiled one, the compiled one first', () => {
    const a = `sha256:${'a'.repeat(64)}`;
    const b = `sha256:${'b'.repeat(64)}`;
    expect(servedCell(server())).toBeUndefined();
    expect(
      servedCell(
        server({
          status: {
            policyHash: b,
            servedPolicyHashes: [
              { hash: a, sidecars: 1 },
              { hash: b, sidecars: 3 },
            ],
          },
        }),
      ),
    ).toBe('bbbbbbbbbbbb(3) aaaaaaaaaaaa(1)!');
  });

  it('counts the tools served of those published, and marks a server that serves none by quarantine', () => {
    const D = `sha256:${'d'.repeat(64)}`;
    const observed = [
      { name: 'a', digest: D, state: 'Quarantined' as const },
      { name: 'b', digest: D, state: 'Quarantined' as const },
    ];
    expect(toolsCell(server())).toBeUndefined();
    expect(
      toolsCell(
        server({
          status: { servedTools: 1, observedTools: observed, conditions: [cond('ToolsServed', 'True')] },
        }),
      ),
    ).toBe('1/2');
    expect(
      toolsCell(
        server({
          status: {
            servedTools: 0,
            observedTools: observed,
            conditions: [cond('ToolsServed', 'False', 'AllToolsQuarantined')],
          },
        }),
      ),
    ).toBe('0/2!');
    expect(
      toolsCell(
        server({
          status: {
            servedTools: 0,
            observedTools: observed,
            conditions: [cond('ToolsServed', 'False', 'AllToolsKilled')],
          },
        }),
      ),
    ).toBe('0/2');
  });

  it('shows drift with the tools that drifted', () => {
    expect(driftCell(server())).toBeUndefined();
    expect(driftCell(server({ status: { conditions: [cond('ToolDrift', 'Unknown')] } }))).toBe('unknown');
    expect(
      driftCell(
        server({
          status: {
            conditions: [cond('ToolDrift', 'True')],
            observedTools: [
              { name: 'x', digest: 'd', state: 'Quarantined' },
              { name: 'y', digest: 'd', state: 'Pinned' },
            ],
          },
        }),
      ),
    ).toBe('yes(x)');
  });

  it('keeps control and bidi characters from other people off the terminal', () => {
    const text = renderStatusTable(
      [
        server({
          annotations: { 'portcullis.dev/killed-tools': 'a\u001b[31m' },
          status: { endpoint: 'http://x/\u202eevil' },
        }),
      ],
      false,
      0,
    );
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('http://x/?evil');
  });
});
