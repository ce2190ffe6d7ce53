import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { operatorSettingsSchema } from '../settings.ts';
import { egressLockCondition, egressLockEvents } from './egress-lock.ts';
import { mcpServerStatus } from './mcpserver-status.ts';

const billing: McpServer = loadExample('billing.yaml').servers[0]!;

/** The status a reconcile writes with this egressLock setting, over the status `before` it found. */
function statusWith(egressLock: 'Enabled' | 'Disabled', before?: McpServer['status']) {
  return mcpServerStatus({
    server: { ...billing, ...(before ? { status: before } : {}) },
    compiled: compile({ server: billing, policies: [] }),
    workload: { desired: 1, replicas: 1, readyReplicas: 1 },
    endpoint: 'https://billing.finance.svc:8443/mcp',
    now: '2026-01-01T00:00:00.000Z',
    egressLock,
  });
}
const condition = (status: ReturnType<typeof statusWith>, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('the EgressLocked condition', () => {
  it('is True with the lock on, and False naming the operator setting and the bypass with it off', () => {
    expect(egressLockCondition('Enabled')).toMatchObject({
      type: 'EgressLocked',
      status: 'True',
      reason: 'LockEnabled',
    });
    const off = egressLockCondition('Disabled');
    expect(off).toMatchObject({ type: 'EgressLocked', status: 'False', reason: 'DisabledByOperator' });
    expect(off.message).toContain('egressLock is Disabled');
    expect(off.message).toContain('bypass the egress proxy');
  });

  it("is part of the server's status, and a server without the lock is still Ready", () => {
    const disabled = statusWith('Disabled');
    expect(condition(disabled, 'EgressLocked')).toMatchObject({ status: 'False' });
    expect(condition(disabled, 'Ready')?.status).toBe('True');
    expect(condition(statusWith('Enabled'), 'EgressLocked')?.status).toBe('True');
  });

  it('is left out when the reconciler does not say (an older caller)', () => {
    const status = mcpServerStatus({
      server: billing,
      compiled: compile({ server: billing, policies: [] }),
      endpoint: 'e',
      now: '2026-01-01T00:00:00.000Z',
    });
    expect(condition(status, 'EgressLocked')).toBeUndefined();
  });
});

describe('egress-lock Events', () => {
  it('warns when a new server comes up without the lock, once', () => {
    const first = statusWith('Disabled');
    expect(egressLockEvents(undefined, first.conditions!)).toEqual([
      { type: 'Warning', reason: 'EgressLockDisabled', message: egressLockCondition('Disabled').message },
    ]);
    expect(egressLockEvents(first.conditions, statusWith('Disabled', first).conditions!)).toEqual([]);
  });

  it('warns when the operator turns the lock off, and tells when it is back on', () => {
    const locked = statusWith('Enabled');
    const unlocked = statusWith('Disabled', locked);
    expect(egressLockEvents(locked.conditions, unlocked.conditions!)).toEqual([
      { type: 'Warning', reason: 'EgressLockDisabled', message: expect.stringContaining('Disabled') },
    ]);
    expect(egressLockEvents(unlocked.conditions, statusWith('Enabled', unlocked).conditions!)).toEqual([
      { type: 'Normal', reason: 'EgressLockEnabled', message: egressLockCondition('Enabled').message },
    ]);
  });

  it('says nothing for a server that always had the lock, new or old', () => {
    const locked = statusWith('Enabled');
    expect(egressLockEvents(undefined, locked.conditions!)).toEqual([]);
    expect(egressLockEvents(locked.conditions, statusWith('Enabled', locked).conditions!)).toEqual([]);
  });

  it('takes the default operator setting as Enabled', () => {
    expect(operatorSettingsSchema.parse({}).egressLock).toBe('Enabled');
  });
});
