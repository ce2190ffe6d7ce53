import { describe, expect, it } from 'vitest';
import { KILL_REASON, KILL_SWITCH, KILLED_TOOLS } from '../../api/v1alpha1/annotations.ts';
import { planSwitch } from './kill-plan.ts';

const server = { kind: 'mcpserver', name: 'billing' } as const;
const tools = (...names: string[]) => ({ kind: 'mcpserver', name: 'billing', tools: names }) as const;

describe('kill of a whole object', () => {
  it('sets the switch and the reason', () => {
    const plan = planSwitch({ action: 'kill', target: server, annotations: {}, reason: 'alice: INC-1' });
    expect(plan.patch).toEqual({
      metadata: { annotations: { [KILL_SWITCH]: 'true', [KILL_REASON]: 'alice: INC-1' } },
    });
    expect(plan.summary).toBe('kill switch engaged (reason: alice: INC-1)');
  });

  it('changes nothing when already engaged, even by a typo, and says so with the old reason', () => {
    for (const value of ['true', 'flase', 'yes']) {
      const plan = planSwitch({
        action: 'kill',
        target: server,
        annotations: { [KILL_SWITCH]: value, [KILL_REASON]: 'bob: earlier' },
        reason: 'alice: now',
      });
      expect(plan.patch).toBeUndefined();
      expect(plan.summary).toBe('kill switch already engaged (reason: bob: earlier); nothing changed');
    }
  });

  it('engages over an explicit "false"', () => {
    const plan = planSwitch({ action: 'kill', target: server, annotations: { [KILL_SWITCH]: 'false' } });
    expect(plan.patch?.metadata['annotations']).toEqual({ [KILL_SWITCH]: 'true' });
  });
});

describe('release of a whole object', () => {
  it('removes the switch and the reason: it never writes "false"', () => {
    const plan = planSwitch({
      action: 'release',
      target: { kind: 'namespace', name: 'finance' },
      annotations: { [KILL_SWITCH]: 'true', [KILL_REASON]: 'x' },
    });
    expect(plan.patch).toEqual({ metadata: { annotations: { [KILL_SWITCH]: null, [KILL_REASON]: null } } });
    expect(JSON.stringify(plan.patch)).not.toContain('false');
    expect(plan.summary).toBe('kill switch released');
  });

  it('keeps the reason and says so while tools of the server stay killed', () => {
    const plan = planSwitch({
      action: 'release',
      target: server,
      annotations: { [KILL_SWITCH]: 'true', [KILLED_TOOLS]: 'a,b', [KILL_REASON]: 'x' },
      reason: 'fixed',
    });
    expect(plan.patch).toEqual({ metadata: { annotations: { [KILL_SWITCH]: null } } });
    expect(plan.summary).toBe(
      'kill switch released (reason: fixed); tools a, b stay killed (release them with --tool)',
    );
  });

  it('changes nothing when not engaged', () => {
    const plan = planSwitch({ action: 'release', target: server, annotations: {} });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('kill switch was not engaged; nothing changed');
  });

  it('removes a leftover "false" and says it was not engaged', () => {
    const plan = planSwitch({ action: 'release', target: server, annotations: { [KILL_SWITCH]: 'false' } });
    expect(plan.patch?.metadata['annotations']).toEqual({ [KILL_SWITCH]: null, [KILL_REASON]: null });
    expect(plan.summary).toMatch(/was not engaged \(its annotation said "false"\)/);
  });

  it('written blind (no get), removes the switch but leaves a reason it cannot see the owner of', () => {
    const plan = planSwitch({ action: 'release', target: server, annotations: undefined });
    expect(plan.patch?.metadata['annotations']).toEqual({ [KILL_SWITCH]: null });
  });
});

describe('killed tools', () => {
  const read = { [KILLED_TOOLS]: 'force_push', [KILL_REASON]: 'old' };

  it('adds names, keeps the others, and writes with the resourceVersion as precondition', () => {
    const plan = planSwitch({
      action: 'kill',
      target: tools('delete_repo', 'force_push'),
      annotations: read,
      resourceVersion: '42',
      reason: 'alice: SEC-1',
    });
    expect(plan.patch).toEqual({
      metadata: {
        resourceVersion: '42',
        annotations: { [KILLED_TOOLS]: 'delete_repo,force_push', [KILL_REASON]: 'alice: SEC-1' },
      },
    });
    expect(plan.summary).toBe(
      'tool delete_repo killed (reason: alice: SEC-1); force_push already was; killed tools now: delete_repo, force_push',
    );
  });

  it('reads a messy list as the sidecar does', () => {
    const plan = planSwitch({
      action: 'kill',
      target: tools('c'),
      annotations: { [KILLED_TOOLS]: ' b, a,,a ' },
      resourceVersion: '1',
    });
    expect(plan.patch?.metadata['annotations']).toEqual({ [KILLED_TOOLS]: 'a,b,c' });
  });

  it('changes nothing when every tool is already killed', () => {
    const plan = planSwitch({ action: 'kill', target: tools('force_push'), annotations: read, reason: 'x' });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('tool force_push already killed (reason: old); nothing changed');
  });

  it('releases names and keeps the rest', () => {
    const plan = planSwitch({
      action: 'release',
      target: tools('a', 'zz'),
      annotations: { [KILLED_TOOLS]: 'a,b', [KILL_REASON]: 'r' },
      resourceVersion: '7',
    });
    expect(plan.patch).toEqual({ metadata: { resourceVersion: '7', annotations: { [KILLED_TOOLS]: 'b' } } });
    expect(plan.summary).toBe('tool a released; zz was not killed; still killed: b');
  });

  it('removes the list and the reason with the last tool, unless the server switch needs the reason', () => {
    const alone = planSwitch({
      action: 'release',
      target: tools('a'),
      annotations: { [KILLED_TOOLS]: 'a', [KILL_REASON]: 'r' },
      resourceVersion: '7',
    });
    expect(alone.patch?.metadata['annotations']).toEqual({ [KILLED_TOOLS]: null, [KILL_REASON]: null });
    const withServer = planSwitch({
      action: 'release',
      target: tools('a'),
      annotations: { [KILLED_TOOLS]: 'a', [KILL_SWITCH]: 'true', [KILL_REASON]: 'r' },
      resourceVersion: '7',
    });
    expect(withServer.patch?.metadata['annotations']).toEqual({ [KILLED_TOOLS]: null });
    expect(withServer.summary).toMatch(/the whole server stays killed$/);
  });

  it('changes nothing when none of the tools is killed', () => {
    const plan = planSwitch({ action: 'release', target: tools('a'), annotations: {} });
    expect(plan.patch).toBeUndefined();
    expect(plan.summary).toBe('tool a was not killed; nothing changed');
  });
});
