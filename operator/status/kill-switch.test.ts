import { describe, expect, it } from 'vitest';
import {
  KILL_REASON,
  KILL_SWITCH,
  KILLED_AT,
  KILLED_BY,
  KILLED_TOOLS,
  KILLED_TOOLS_REASONS,
  RELEASE_REASON,
  RELEASED_AT,
  RELEASED_BY,
  RELEASED_TOOLS,
} from '../../api/v1alpha1/annotations.ts';
import { mcpServerStatus as statusSchema } from '../../api/v1alpha1/mcpserver.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { killSwitchStatus, releaseCovers, releaseRecords } from './kill-switch.ts';
import { mcpServerStatus } from './mcpserver-status.ts';

const billing: McpServer = loadExample('billing.yaml').servers[0]!;
const NOW = '2026-03-01T12:00:00.000Z';
const EARLIER = '2026-03-01T09:30:00.000Z';
const withAnnotations = (annotations: Record<string, string>): McpServer => ({
  ...billing,
  metadata: { ...billing.metadata, namespace: 'finance', annotations },
});

describe('status.killSwitch', () => {
  it('says nothing is engaged when no switch is set', () => {
    expect(killSwitchStatus({ server: withAnnotations({}), now: NOW })).toEqual({
      engaged: false,
      server: false,
    });
    // An explicit "false" releases; anything else (a typo) fails closed, as in the bundle.
    expect(killSwitchStatus({ server: withAnnotations({ [KILL_SWITCH]: 'false' }), now: NOW }).engaged).toBe(
      false,
    );
    expect(killSwitchStatus({ server: withAnnotations({ [KILL_SWITCH]: 'flase' }), now: NOW }).engaged).toBe(
      true,
    );
  });

  it("records the server's own switch: by what, since when (killed-at), why and who", () => {
    const status = killSwitchStatus({
      server: withAnnotations({
        [KILL_SWITCH]: 'true',
        [KILL_REASON]: 'INC-4711 exfiltration',
        [KILLED_BY]: 'alice',
        [KILLED_AT]: '2026-03-01T10:30:00+01:00',
      }),
      now: NOW,
    });
    expect(status).toEqual({
      engaged: true,
      server: true,
      since: EARLIER,
      reason: 'alice: INC-4711 exfiltration',
      switches: [
        { type: 'Server', name: 'billing', since: EARLIER, reason: 'INC-4711 exfiltration', by: 'alice' },
      ],
    });
  });

  it('lists every switch that bites: the Namespace, tools by name and targeting ToolPolicies, hardest first', () => {
    const status = killSwitchStatus({
      server: withAnnotations({
        [KILLED_TOOLS]: 'issue_refund,read_invoice',
        [KILLED_TOOLS_REASONS]: JSON.stringify({
          issue_refund: { reason: 'SEC-1', by: 'bob', at: EARLIER },
          read_invoice: { reason: 'SEC-2' },
        }),
      }),
      namespaceAnnotations: { [KILL_SWITCH]: 'true', [KILL_REASON]: 'bridge', [KILLED_BY]: 'carol' },
      policies: [
        { name: 'z-policy', annotations: { [KILL_SWITCH]: 'true', [KILLED_BY]: 'dave' } },
        { name: 'a-policy', annotations: {} },
        { name: 'm-policy', annotations: { [KILL_SWITCH]: 'yes', [KILL_REASON]: 'too broad' } },
      ],
      now: NOW,
    });
    expect(status.engaged).toBe(true);
    expect(status.server).toBe(true); // the Namespace's switch refuses every call
    expect(status.tools).toEqual(['issue_refund', 'read_invoice']);
    expect(status.policies).toEqual(['m-policy', 'z-policy']);
    expect(status.since).toBe(EARLIER);
    expect(status.reason).toBe('carol: bridge');
    expect(status.switches).toEqual([
      { type: 'Namespace', name: 'finance', since: NOW, reason: 'bridge', by: 'carol' },
      { type: 'Tool', name: 'issue_refund', since: EARLIER, reason: 'SEC-1', by: 'bob' },
      { type: 'Tool', name: 'read_invoice', since: NOW, reason: 'SEC-2' },
      { type: 'ToolPolicy', name: 'm-policy', since: NOW, reason: 'too broad' },
      { type: 'ToolPolicy', name: 'z-policy', since: NOW, by: 'dave' },
    ]);
  });

  it("summarises tools' own records when only tools are killed; older CLIs' shared reason still counts", () => {
    const own = killSwitchStatus({
      server: withAnnotations({
        [KILLED_TOOLS]: 'a,b',
        [KILLED_TOOLS_REASONS]: JSON.stringify({ a: { reason: 'SEC-1', by: 'bob' }, b: 'SEC-2' }),
      }),
      now: NOW,
    });
    expect(own.server).toBe(false);
    expect(own.reason).toBe('a: bob: SEC-1; b: SEC-2');
    const legacy = killSwitchStatus({
      server: withAnnotations({ [KILLED_TOOLS]: 'a', [KILL_REASON]: 'bob: SEC-0' }),
      now: NOW,
    });
    expect(legacy.switches).toEqual([{ type: 'Tool', name: 'a', since: NOW, reason: 'bob: SEC-0' }]);
  });

  it('keeps the time a switch without a recorded one was first seen, like lastTransitionTime', () => {
    const server = withAnnotations({ [KILL_SWITCH]: 'true' });
    const first = killSwitchStatus({ server, now: EARLIER });
    const later = killSwitchStatus({ server, previous: first, now: NOW });
    expect(later.switches?.[0]?.since).toBe(EARLIER);
    expect(later.since).toBe(EARLIER);
    // Released and engaged again: a new engagement, a new time.
    const released = killSwitchStatus({ server: withAnnotations({}), previous: later, now: NOW });
    const again = killSwitchStatus({ server, previous: released, now: '2026-03-02T00:00:00.000Z' });
    expect(again.since).toBe('2026-03-02T00:00:00.000Z');
  });

  it('ignores a killed-at that is not an RFC 3339 time rather than writing it into a date-time field', () => {
    const status = killSwitchStatus({
      server: withAnnotations({ [KILL_SWITCH]: 'true', [KILLED_AT]: 'yesterday' }),
      now: NOW,
    });
    expect(status.since).toBe(NOW);
  });

  it('shows the last release, wherever it was recorded, also while switches are engaged again', () => {
    const server = withAnnotations({
      [KILL_SWITCH]: 'true',
      [RELEASED_BY]: 'bob',
      [RELEASED_AT]: '2026-03-01T08:00:00Z',
      [RELEASE_REASON]: 'INC-1 closed',
    });
    const namespaceAnnotations = {
      [RELEASED_BY]: 'carol',
      [RELEASED_AT]: '2026-03-01T11:00:00Z',
    };
    const status = killSwitchStatus({ server, namespaceAnnotations, now: NOW });
    expect(status.engaged).toBe(true);
    expect(status.lastRelease).toEqual({
      type: 'Namespace',
      name: 'finance',
      at: '2026-03-01T11:00:00.000Z',
      by: 'carol',
    });
    expect(releaseRecords({ server, namespaceAnnotations }).map((r) => r.type)).toEqual([
      'Namespace',
      'Server',
    ]);
  });

  it('records a release of tools by name as type Tool with the tools, and matches it to those switches only', () => {
    const [release] = releaseRecords({
      server: withAnnotations({
        [RELEASED_BY]: 'bob',
        [RELEASED_AT]: NOW,
        [RELEASED_TOOLS]: 'b, a',
        [RELEASE_REASON]: 'fixed',
      }),
    });
    expect(release).toEqual({
      type: 'Tool',
      name: 'billing',
      tools: ['a', 'b'],
      at: NOW,
      by: 'bob',
      reason: 'fixed',
    });
    expect(releaseCovers(release!, { type: 'Tool', name: 'a' })).toBe(true);
    expect(releaseCovers(release!, { type: 'Tool', name: 'c' })).toBe(false);
    expect(releaseCovers(release!, { type: 'Server', name: 'billing' })).toBe(false);
    // No valid released-at: no record (a hand-written annotation cannot make one up).
    expect(
      releaseRecords({ server: withAnnotations({ [RELEASED_BY]: 'x', [RELEASED_AT]: 'soon' }) }),
    ).toEqual([]);
  });
});

describe('mcpServerStatus', () => {
  it('writes status.killSwitch the CRD accepts, also while the policy does not compile', () => {
    const server = withAnnotations({ [KILL_SWITCH]: 'true', [KILL_REASON]: 'INC-1', [KILLED_BY]: 'alice' });
    const status = mcpServerStatus({
      server,
      compiled: { ok: false, errors: [{ policy: 'p', field: 'spec.rules[r].when', message: 'bad' }] },
      endpoint: 'http://billing.finance.svc:8080/mcp',
      now: NOW,
    });
    expect(status.killSwitch).toMatchObject({ engaged: true, server: true, reason: 'alice: INC-1' });
    expect(statusSchema.safeParse(status).success).toBe(true);
    // With a compiled bundle, the Killed condition is still there for whoever waits on it.
    const compiled = compile({ server, policies: [] });
    const ok = mcpServerStatus({ server, compiled, endpoint: 'http://x', now: NOW });
    expect(ok.conditions?.find((c) => c.type === 'Killed')?.status).toBe('True');
    expect(ok.killSwitch?.switches?.map((s) => s.type)).toEqual(['Server']);
  });
});
