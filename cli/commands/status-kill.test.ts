import { describe, expect, it } from 'vitest';
import type { KillSwitchStatus } from '../../api/v1alpha1/kill-switch-status.ts';
import { renderStatusTable, type ServerObject } from './status-format.ts';
import { killedCell, killedSinceCell, killReasonCell, lastReleaseCell } from './status-kill.ts';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');

const server = (annotations: Record<string, string> = {}, killSwitch?: KillSwitchStatus): ServerObject => ({
  metadata: { name: 'billing', namespace: 'finance', annotations },
  ...(killSwitch ? { status: { killSwitch } } : {}),
});

const byNamespaceAndPolicy: KillSwitchStatus = {
  engaged: true,
  server: true,
  policies: ['p'],
  since: '2026-03-01T11:55:00.000Z',
  reason: 'carol: bridge',
  switches: [
    { type: 'Namespace', name: 'finance', since: '2026-03-01T11:55:00.000Z', reason: 'bridge', by: 'carol' },
    { type: 'ToolPolicy', name: 'p', since: '2026-03-01T11:58:00.000Z' },
  ],
};

describe('kill-switch cells of portcullis status', () => {
  it("reads the server's own switches from its live annotations, typos failing closed", () => {
    expect(killedCell(server())).toBeUndefined();
    expect(killedCell(server({ 'portcullis.dev/kill-switch': 'false' }))).toBeUndefined();
    expect(killedCell(server({ 'portcullis.dev/kill-switch': 'flase' }))).toBe('server');
    expect(killedCell(server({ 'portcullis.dev/killed-tools': 'b,a' }))).toBe('tools(a,b)');
  });

  it('reads the Namespace and ToolPolicy switches from status.killSwitch, not from a condition message', () => {
    expect(killedCell(server({ 'portcullis.dev/killed-tools': 'a' }, byNamespaceAndPolicy))).toBe(
      'namespace,tools(a),policy(p)',
    );
    // A Killed condition alone (what an older operator wrote) names nothing any more.
    const conditionOnly: ServerObject = {
      metadata: { name: 'billing' },
      status: {
        conditions: [
          {
            type: 'Killed',
            status: 'True',
            reason: 'ToolsKilled',
            message: 'refused: the tools of ToolPolicy p',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    };
    expect(killedCell(conditionOnly)).toBeUndefined();
  });

  it('shows since when, why and who; the annotation while the operator has not reported', () => {
    const killed = server({}, byNamespaceAndPolicy);
    expect(killedSinceCell(killed, NOW)).toBe('5m');
    expect(killReasonCell(killed)).toBe('carol: bridge');
    const fresh = server({
      'portcullis.dev/kill-switch': 'true',
      'portcullis.dev/kill-reason': 'INC-1',
      'portcullis.dev/killed-at': '2026-03-01T11:59:30Z',
    });
    expect(killedSinceCell(fresh, NOW)).toBe('30s');
    expect(killReasonCell(fresh)).toBe('INC-1');
    expect(killedSinceCell(server(), NOW)).toBeUndefined();
    expect(killReasonCell(server())).toBeUndefined();
  });

  it('shows the last release: what, who, how long ago and why', () => {
    const release = (lastRelease: KillSwitchStatus['lastRelease']) =>
      lastReleaseCell(
        server({}, { engaged: false, server: false, ...(lastRelease ? { lastRelease } : {}) }),
        NOW,
      );
    expect(release(undefined)).toBeUndefined();
    expect(
      release({
        type: 'Server',
        name: 'billing',
        at: '2026-03-01T11:00:00.000Z',
        by: 'bob',
        reason: 'INC-1 closed',
      }),
    ).toBe('bob 60m ago: INC-1 closed');
    expect(
      release({ type: 'Tool', name: 'billing', tools: ['a', 'b'], at: '2026-03-01T11:59:00.000Z' }),
    ).toBe('tools(a,b) by (unknown) 60s ago: (no reason given)');
    expect(release({ type: 'Namespace', name: 'finance', at: '2026-03-01T11:59:00.000Z', by: 'carol' })).toBe(
      'namespace(finance) by carol 60s ago: (no reason given)',
    );
  });

  it('puts them in the wide table', () => {
    const [header, row] = renderStatusTable(
      [
        server(
          {},
          {
            ...byNamespaceAndPolicy,
            lastRelease: {
              type: 'Server',
              name: 'billing',
              at: '2026-03-01T11:00:00.000Z',
              by: 'bob',
              reason: 'ok',
            },
          },
        ),
      ],
      true,
      NOW,
    )
      .trimEnd()
      .split('\n');
    expect(header).toMatch(/ KILLED SINCE +KILL REASON +LAST RELEASE +NOT READY BECAUSE$/);
    expect(row).toMatch(/ namespace,policy\(p\) .* 5m +carol: bridge +bob 60m ago: ok +no status yet/);
  });
});
