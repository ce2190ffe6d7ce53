import { describe, expect, it } from 'vitest';
import { auditEventDraft } from '../../api/audit/v1/event.ts';
import { compile } from '../../policy/compile.ts';
import { loadBundle } from '../../policy/load.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { policyChangeEvents } from './policy-events.ts';
import { cel } from '../../policy/cel.ts';

const { servers, policies } = loadExample('billing.yaml');
const TIME = '2026-11-22T10:00:00.000Z';

function loaded(
  annotations: Record<string, string> = {},
  namespaceAnnotations: Record<string, string> = {},
  policyAnnotations: Record<string, string> = {},
) {
  const server = { ...servers[0]!, metadata: { ...servers[0]!.metadata, annotations } };
  const withPolicyKill = policies.map((p, i) =>
    i === 0 ? { ...p, metadata: { ...p.metadata, annotations: policyAnnotations } } : p,
  );
  const result = compile({ server, policies: withPolicyKill, namespaceAnnotations, conditions: cel });
  if (!result.ok) throw new Error('compile');
  return loadBundle(result.bundle, cel);
}

const switches = (events: ReturnType<typeof policyChangeEvents>) =>
  events.filter((e) => e.kind === 'kill_switch').map((e) => e.killSwitch);

describe('policyChangeEvents', () => {
  it('records the first policy with no previous hash, and every switch already engaged', () => {
    const current = loaded({ 'portcullis.dev/kill-switch': 'true', 'portcullis.dev/kill-reason': 'SEC-1' });
    const events = policyChangeEvents(undefined, current, TIME);
    expect(events[0]).toMatchObject({ kind: 'policy', policy: { hash: current.hash }, time: TIME });
    expect(events[0]!.policy).not.toHaveProperty('previousHash');
    expect(switches(events)).toEqual([{ scope: 'server', state: 'engaged', reason: 'SEC-1' }]);
    for (const event of events) expect(auditEventDraft.safeParse(event).success).toBe(true);
  });

  it('records engage and release of server, tool, namespace and policy switches, once each', () => {
    const quiet = loaded();
    const policyName = policies[0]!.metadata.name;
    const loud = loaded(
      { 'portcullis.dev/killed-tools': 'issue_refund,read_invoice' },
      { 'portcullis.dev/kill-switch': 'true' },
      { 'portcullis.dev/kill-switch': 'true', 'portcullis.dev/kill-reason': 'INC-9' },
    );
    const engaged = policyChangeEvents(quiet, loud, TIME);
    expect(engaged[0]).toMatchObject({
      kind: 'policy',
      policy: { previousHash: quiet.hash, hash: loud.hash },
    });
    expect(switches(engaged)).toEqual(
      expect.arrayContaining([
        { scope: 'namespace', target: servers[0]!.metadata.namespace, state: 'engaged' },
        { scope: 'tool', target: 'issue_refund', state: 'engaged' },
        { scope: 'tool', target: 'read_invoice', state: 'engaged' },
        { scope: 'policy', target: policyName, state: 'engaged', reason: 'INC-9' },
      ]),
    );
    expect(switches(engaged)).toHaveLength(4);
    expect(engaged.find((e) => e.killSwitch?.target === 'issue_refund')).toMatchObject({
      tool: 'issue_refund',
      decision: 'killed',
    });
    const released = policyChangeEvents(loud, quiet, TIME);
    expect(switches(released).map((s) => s!.state)).toEqual(['released', 'released', 'released', 'released']);
    expect(released.filter((e) => e.kind === 'kill_switch').every((e) => e.decision === 'allowed')).toBe(
      true,
    );
  });

  it('records no switch events when only the policy changed', () => {
    const a = loaded({ 'portcullis.dev/kill-switch': 'true' });
    const b = loaded({ 'portcullis.dev/kill-switch': 'true', 'portcullis.dev/kill-reason': 'same switch' });
    expect(switches(policyChangeEvents(a, b, TIME))).toEqual([]);
  });
});
