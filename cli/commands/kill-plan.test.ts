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
import { planSwitch } from './kill-plan.ts';

const server = { kind: 'mcpserver', name: 'billing' } as const;
const tools = (...names: string[]) => ({ kind: 'mcpserver', name: 'billing', tools: names }) as const;
const reasons = (value: Record<string, { reason?: string; by?: string; at?: string }>) =>
  JSON.stringify(value);
const NOW = '2026-03-01T10:00:00.000Z';
/** A release's record when the plan is not told who, when or why: every key still written (cleared). */
const NO_RECORD = {
  [RELEASED_BY]: null,
  [RELEASED_AT]: null,
  [RELEASE_REASON]: null,
  [RELEASED_TOOLS]: null,
};

describe('kill of a whole object', () => {
  it('sets the switch, the reason as given and who engaged it, separately', () => {
    const plan = planSwitch({
      action: 'kill',
      target: server,
      annotations: {},
      reason: 'INC-1',
      actor: 'alice',
      now: NOW,
    });
    expect(plan.patch).toEqual({
      metadata: {
        annotations: {
          [KILL_SWITCH]: 'true',
          [KILL_REASON]: 'INC-1',
          [KILLED_BY]: 'alice',
          [KILLED_AT]: NOW,
        },
      },
    });
    expect(plan.summary).toBe('kill switch engaged (reason: alice: INC-1)');
  });

  it('changes nothing when already engaged, even by a typo, and says so with the old record', () => {
    for (const value of ['true', 'flase', 'yes']) {
      const plan = planSwitch({
        action: 'kill',
        target: server,
        annotations: { [KILL_SWITCH]: value, [KILL_REASON]: 'earlier', [KILLED_BY]: 'bob' },
        reason: 'now',
        actor: 'alice',
      });
      expect(plan.patch).toBeUndefined();
      expect(plan.summary).toBe('kill switch already engaged (reason: bob: earlier); nothing changed');
    }
  });

  it('engages over an explicit "false", and clears a stale killed-by when it does not know who writes', () => {
    const plan = planSwitch({ action: 'kill', target: server, annotations: { [KILL_SWITCH]: 'false' } });
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: null,
      [KILLED_BY]: null,
      [KILLED_AT]: null,
    });
  });

  it('does not touch the reasons of killed tools; tools killed by an older CLI get their shared reason first', () => {
    const separate = planSwitch({
      action: 'kill',
      target: server,
      annotations: { [KILLED_TOOLS]: 'a', [KILLED_TOOLS_REASONS]: reasons({ a: { reason: 'SEC-1' } }) },
      reason: 'INC-2',
      actor: 'alice',
    });
    expect(separate.patch?.metadata['annotations']).toEqual({
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: 'INC-2',
      [KILLED_BY]: 'alice',
      [KILLED_AT]: null,
    });
    const legacy = planSwitch({
      action: 'kill',
      target: server,
      annotations: { [KILLED_TOOLS]: 'a,b', [KILL_REASON]: 'bob: SEC-1' },
      reason: 'INC-2',
      actor: 'alice',
    });
    expect(legacy.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS_REASONS]: reasons({ a: { reason: 'bob: SEC-1' }, b: { reason: 'bob: SEC-1' } }),
      [KILL_SWITCH]: 'true',
      [KILL_REASON]: 'INC-2',
      [KILLED_BY]: 'alice',
      [KILLED_AT]: null,
    });
  });
});

describe('release of a whole object', () => {
  it('removes the switch and its record, and records who released it, when and why: it never writes "false"', () => {
    const plan = planSwitch({
      action: 'release',
      target: { kind: 'namespace', name: 'finance' },
      annotations: {
        [KILL_SWITCH]: 'true',
        [KILL_REASON]: 'x',
        [KILLED_BY]: 'alice',
        [KILLED_AT]: '2026-03-01T09:00:00.000Z',
      },
      reason: 'INC-1 closed',
      actor: 'bob',
      now: NOW,
    });
    expect(plan.patch).toEqual({
      metadata: {
        annotations: {
          [KILL_SWITCH]: null,
          [KILL_REASON]: null,
          [KILLED_BY]: null,
          [KILLED_AT]: null,
          [RELEASED_BY]: 'bob',
          [RELEASED_AT]: NOW,
          [RELEASE_REASON]: 'INC-1 closed',
          [RELEASED_TOOLS]: null,
        },
      },
    });
    expect(JSON.stringify(plan.patch)).not.toContain('false');
    expect(plan.summary).toBe('kill switch released (reason: bob: INC-1 closed)');
  });

  it('replaces every key of an earlier release record, so a missing reason does not inherit the old one', () => {
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: {
        [KILL_SWITCH]: 'true',
        [RELEASED_BY]: 'carol',
        [RELEASED_AT]: '2026-01-01T00:00:00.000Z',
        [RELEASE_REASON]: 'an earlier incident',
        [RELEASED_TOOLS]: 'a',
      },
      actor: 'bob',
      now: NOW,
    });
    expect(plan.patch?.metadata['annotations']).toMatchObject({
      [RELEASED_BY]: 'bob',
      [RELEASED_AT]: NOW,
      [RELEASE_REASON]: null,
      [RELEASED_TOOLS]: null,
    });
    expect(plan.summary).toBe('kill switch released (by bob; no reason given)');
  });

  it('leaves the tools their own reasons, and says they stay killed', () => {
    const own = reasons({ a: { reason: 'SEC-1', by: 'bob' } });
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: {
        [KILL_SWITCH]: 'true',
        [KILLED_TOOLS]: 'a,b',
        [KILL_REASON]: 'x',
        [KILLED_TOOLS_REASONS]: own,
      },
      reason: 'fixed',
    });
    expect(plan.patch).toEqual({
      metadata: {
        annotations: {
          [KILL_SWITCH]: null,
          [KILL_REASON]: null,
          [KILLED_BY]: null,
          [KILLED_AT]: null,
          ...NO_RECORD,
          [RELEASE_REASON]: 'fixed',
        },
      },
    });
    expect(plan.summary).toBe(
      'kill switch released (reason: fixed); tools a, b stay killed (release them with --tool)',
    );
  });

  it('gives tools killed by an older CLI the shared reason before removing it', () => {
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: { [KILL_SWITCH]: 'true', [KILLED_TOOLS]: 'a', [KILL_REASON]: 'x' },
    });
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS_REASONS]: reasons({ a: { reason: 'x' } }),
      [KILL_SWITCH]: null,
      [KILL_REASON]: null,
      [KILLED_BY]: null,
      [KILLED_AT]: null,
      ...NO_RECORD,
    });
  });

  it('changes nothing when not engaged', () => {
    const plan = planSwitch({ action: 'release', target: server, annotations: {} });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('kill switch was not engaged; nothing changed');
  });

  it('removes a leftover "false" and says it was not engaged', () => {
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: { [KILL_SWITCH]: 'false' },
      actor: 'bob',
      now: NOW,
    });
    // Nothing was engaged, so there is no release to record.
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILL_SWITCH]: null,
      [KILL_REASON]: null,
      [KILLED_BY]: null,
      [KILLED_AT]: null,
    });
    expect(plan.summary).toMatch(/was not engaged \(its annotation said "false"\)/);
  });

  it('written blind (no get), removes the switch but leaves a reason it cannot see the owner of', () => {
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: undefined,
      actor: 'bob',
      now: NOW,
      reason: 'r',
    });
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILL_SWITCH]: null,
      [KILLED_AT]: null,
      [RELEASED_BY]: 'bob',
      [RELEASED_AT]: NOW,
      [RELEASE_REASON]: 'r',
      [RELEASED_TOOLS]: null,
    });
  });
});

describe('killed tools', () => {
  const read = {
    [KILLED_TOOLS]: 'force_push',
    [KILLED_TOOLS_REASONS]: reasons({ force_push: { reason: 'old', by: 'bob' } }),
    [KILL_SWITCH]: 'true',
    [KILL_REASON]: 'the server switch',
  };

  it('adds names with their own record, keeps the others, never touches kill-reason, writes with a precondition', () => {
    const plan = planSwitch({
      action: 'kill',
      target: tools('delete_repo', 'force_push'),
      annotations: read,
      resourceVersion: '42',
      reason: 'SEC-1',
      actor: 'alice',
      now: NOW,
    });
    expect(plan.patch).toEqual({
      metadata: {
        resourceVersion: '42',
        annotations: {
          [KILLED_TOOLS]: 'delete_repo,force_push',
          [KILLED_TOOLS_REASONS]: reasons({
            delete_repo: { reason: 'SEC-1', by: 'alice', at: NOW },
            force_push: { reason: 'old', by: 'bob' },
          }),
        },
      },
    });
    expect(plan.summary).toBe(
      'tool delete_repo killed (reason: alice: SEC-1); force_push already was; killed tools now: delete_repo, force_push',
    );
  });

  it('moves the shared reason of tools killed by an older CLI into their entries', () => {
    const plan = planSwitch({
      action: 'kill',
      target: tools('b'),
      annotations: { [KILLED_TOOLS]: 'a', [KILL_REASON]: 'bob: SEC-0' },
      resourceVersion: '1',
      reason: 'SEC-1',
      actor: 'alice',
    });
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS]: 'a,b',
      [KILLED_TOOLS_REASONS]: reasons({ a: { reason: 'bob: SEC-0' }, b: { reason: 'SEC-1', by: 'alice' } }),
    });
  });

  it('reads a messy list as the sidecar does', () => {
    const plan = planSwitch({
      action: 'kill',
      target: tools('c'),
      annotations: { [KILLED_TOOLS]: ' b, a,,a ' },
      resourceVersion: '1',
    });
    expect(plan.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS]: 'a,b,c',
      [KILLED_TOOLS_REASONS]: null,
    });
  });

  it("changes nothing when every tool is already killed, and says so with the tool's own record", () => {
    const plan = planSwitch({ action: 'kill', target: tools('force_push'), annotations: read, reason: 'x' });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('tool force_push already killed (reason: bob: old); nothing changed');
  });

  it('releases names with their records, keeps the rest with their times, and records the release', () => {
    const at = '2026-02-01T00:00:00.000Z';
    const plan = planSwitch({
      action: 'release',
      target: tools('a', 'zz'),
      annotations: {
        [KILLED_TOOLS]: 'a,b',
        [KILLED_TOOLS_REASONS]: reasons({ a: { reason: 'r' }, b: { reason: 's', at } }),
      },
      resourceVersion: '7',
      actor: 'bob',
      now: NOW,
      reason: 'SEC-1 fixed',
    });
    expect(plan.patch).toEqual({
      metadata: {
        resourceVersion: '7',
        annotations: {
          [KILLED_TOOLS]: 'b',
          [KILLED_TOOLS_REASONS]: reasons({ b: { reason: 's', at } }),
          [RELEASED_BY]: 'bob',
          [RELEASED_AT]: NOW,
          [RELEASE_REASON]: 'SEC-1 fixed',
          [RELEASED_TOOLS]: 'a',
        },
      },
    });
    expect(plan.summary).toBe(
      'tool a released (reason: bob: SEC-1 fixed); zz was not killed; still killed: b',
    );
  });

  it('removes the list and the records with the last tool; the server switch keeps its own reason', () => {
    const withServer = planSwitch({
      action: 'release',
      target: tools('force_push'),
      annotations: read,
      resourceVersion: '7',
    });
    expect(withServer.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS]: null,
      [KILLED_TOOLS_REASONS]: null,
      ...NO_RECORD,
      [RELEASED_TOOLS]: 'force_push',
    });
    expect(withServer.summary).toMatch(/the whole server stays killed$/);
    // Written by an older CLI, without a server switch: the shared reason was the tools' and goes too.
    const legacy = planSwitch({
      action: 'release',
      target: tools('a'),
      annotations: { [KILLED_TOOLS]: 'a', [KILL_REASON]: 'r' },
      resourceVersion: '7',
    });
    expect(legacy.patch?.metadata['annotations']).toEqual({
      [KILLED_TOOLS]: null,
      [KILLED_TOOLS_REASONS]: null,
      [KILL_REASON]: null,
      ...NO_RECORD,
      [RELEASED_TOOLS]: 'a',
    });
  });

  it('changes nothing when none of the tools is killed', () => {
    const plan = planSwitch({ action: 'release', target: tools('a'), annotations: {} });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('tool a was not killed; nothing changed');
  });
});
