import { describe, expect, it } from 'vitest';
import { fleetObservation, type SidecarReport } from './fleet.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const NOW = '2026-11-22T10:00:00.000Z';
const STALE_BEFORE = '2026-11-22T09:59:00.000Z';

const report = (sidecar: string, overrides: Partial<SidecarReport> = {}): SidecarReport => ({
  sidecar,
  lastHeartbeat: NOW,
  policyHash: 'sha256:p1',
  tools: [{ name: 'read_invoice', digest: A, state: 'Pinned' }],
  ...overrides,
});

describe('fleetObservation', () => {
  it('counts sidecars per served policy hash and reports tools as pinned', () => {
    const fleet = fleetObservation(
      [report('a'), report('b'), report('c', { policyHash: 'sha256:p0' })],
      STALE_BEFORE,
    );
    expect(fleet.servedPolicyHashes).toEqual([
      { hash: 'sha256:p0', sidecars: 1 },
      { hash: 'sha256:p1', sidecars: 2 },
    ]);
    expect(fleet.observedTools).toEqual([{ name: 'read_invoice', digest: A, state: 'Pinned' }]);
    expect(fleet.toolDrift).toMatchObject({ status: 'False', reason: 'AsPinned' });
  });

  it('ignores sidecars whose last heartbeat is stale (pods that are gone)', () => {
    const fleet = fleetObservation(
      [report('a'), report('gone', { lastHeartbeat: '2026-11-22T09:00:00.000Z', policyHash: 'sha256:old' })],
      STALE_BEFORE,
    );
    expect(fleet.sidecars).toBe(1);
    expect(fleet.servedPolicyHashes).toEqual([{ hash: 'sha256:p1', sidecars: 1 }]);
  });

  it('leaves out recent reports of pods that are gone or terminating (replaced by a rollout)', () => {
    const reports = [
      report('a', { pod: 'billing-7d9f-new1', policyHash: 'sha256:p2' }),
      report('b', { pod: 'billing-7d9f-new2', policyHash: 'sha256:p2' }),
      // Replaced seconds ago: its last heartbeat is still recent.
      report('c', { pod: 'billing-5c4b-old1', policyHash: 'sha256:p1' }),
      // An older sidecar that does not say which pod it runs in: kept.
      report('d', { policyHash: 'sha256:p2' }),
    ];
    const fleet = fleetObservation(
      reports,
      STALE_BEFORE,
      new Set(['billing-7d9f-new1', 'billing-7d9f-new2']),
    );
    expect(fleet.servedPolicyHashes).toEqual([{ hash: 'sha256:p2', sidecars: 3 }]);
    expect(fleet).toMatchObject({ sidecars: 3, replaced: 1 });
    // Pods unknown (not listable): nothing is left out.
    expect(fleetObservation(reports, STALE_BEFORE)).toMatchObject({ sidecars: 4, replaced: 0 });
  });

  it('says Unknown, not False, when no sidecar reported', () => {
    expect(fleetObservation([], STALE_BEFORE).toolDrift).toMatchObject({
      status: 'Unknown',
      reason: 'NoReports',
    });
  });

  it('flags drift, and replicas that see different definitions', () => {
    const drifted = fleetObservation(
      [report('a', { tools: [{ name: 'read_invoice', digest: B, state: 'Drifted' }] })],
      STALE_BEFORE,
    );
    expect(drifted.toolDrift).toMatchObject({ status: 'True', reason: 'DefinitionsChanged' });
    const split = fleetObservation(
      [report('a'), report('b', { tools: [{ name: 'read_invoice', digest: B, state: 'Unpinned' }] })],
      STALE_BEFORE,
    );
    expect(split.toolDrift).toMatchObject({ status: 'True', reason: 'ReplicasDisagree' });
    expect(split.observedTools).toEqual([{ name: 'read_invoice', digest: B, state: 'Unpinned' }]);
  });

  it('maps an unknown state to Unpinned and bounds the lists', () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ name: `t${i}`, digest: A, state: 'Weird' }));
    const fleet = fleetObservation([report('a', { tools: many })], STALE_BEFORE);
    expect(fleet.observedTools).toHaveLength(256);
    expect(fleet.observedTools.every((t) => t.state === 'Unpinned')).toBe(true);
  });
});
