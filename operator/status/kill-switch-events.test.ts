import { describe, expect, it } from 'vitest';
import type { KillSwitchRelease, KillSwitchStatus } from '../../api/v1alpha1/kill-switch-status.ts';
import { killSwitchEvents } from './kill-switch-events.ts';

const SINCE = '2026-03-01T09:00:00.000Z';
const none: KillSwitchStatus = { engaged: false, server: false };
const serverKilled: KillSwitchStatus = {
  engaged: true,
  server: true,
  since: SINCE,
  reason: 'alice: INC-1',
  switches: [{ type: 'Server', name: 'billing', since: SINCE, reason: 'INC-1', by: 'alice' }],
};
const release = (fields: Partial<KillSwitchRelease> = {}): KillSwitchRelease => ({
  type: 'Server',
  name: 'billing',
  at: '2026-03-01T10:00:00.000Z',
  by: 'bob',
  reason: 'INC-1 closed',
  ...fields,
});

describe('kill-switch Events', () => {
  it('reports an engaged switch with what it is on, who and why', () => {
    expect(killSwitchEvents({ killSwitch: none }, serverKilled, [])).toEqual([
      {
        type: 'Warning',
        reason: 'KillSwitchEngaged',
        message: 'kill switch engaged on McpServer billing (every call): alice: INC-1',
      },
    ]);
    // A server created already killed: no status before is a baseline of nothing.
    expect(killSwitchEvents(undefined, serverKilled, [])).toHaveLength(1);
  });

  it('reports a release with who released it and why, from its release record', () => {
    expect(
      killSwitchEvents({ killSwitch: serverKilled }, { ...none, lastRelease: release() }, [release()]),
    ).toEqual([
      {
        type: 'Normal',
        reason: 'KillSwitchReleased',
        message:
          'kill switch released on McpServer billing (every call) by bob at 2026-03-01T10:00:00.000Z: INC-1 closed; ' +
          `engaged since ${SINCE} (alice: INC-1)`,
      },
    ]);
  });

  it('says when there is no release record, and does not attach one from an earlier release', () => {
    const stale = release({ at: '2026-02-01T00:00:00.000Z' });
    const [event] = killSwitchEvents({ killSwitch: serverKilled }, none, [stale]);
    expect(event?.message).toMatch(
      /^kill switch released on McpServer billing \(every call\) \(no release recorded: /,
    );
    expect(event?.message).not.toContain('bob');
  });

  it('reports each switch on its own: a tool released while the server stays killed', () => {
    const before: KillSwitchStatus = {
      ...serverKilled,
      tools: ['a', 'b'],
      switches: [
        ...serverKilled.switches!,
        { type: 'Tool', name: 'a', since: SINCE, reason: 'SEC-1', by: 'carol' },
        { type: 'Tool', name: 'b', since: SINCE },
      ],
    };
    const after: KillSwitchStatus = {
      ...serverKilled,
      tools: ['b'],
      switches: [...serverKilled.switches!, { type: 'Tool', name: 'b', since: SINCE }],
    };
    const tools = release({ type: 'Tool', tools: ['a'], reason: 'patched' });
    expect(killSwitchEvents({ killSwitch: before }, after, [tools])).toEqual([
      {
        type: 'Normal',
        reason: 'KillSwitchReleased',
        message: `kill switch released on tool a by bob at 2026-03-01T10:00:00.000Z: patched; engaged since ${SINCE} (carol: SEC-1)`,
      },
    ]);
    expect(killSwitchEvents({ killSwitch: after }, after, [tools])).toEqual([]);
  });

  it('stays silent over a status an older operator wrote (no baseline), rather than repeating every switch', () => {
    expect(killSwitchEvents({ killSwitch: { server: true, reason: 'x' } }, serverKilled, [])).toEqual([]);
    expect(killSwitchEvents({}, serverKilled, [])).toEqual([]);
  });
});
