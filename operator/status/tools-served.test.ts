import { describe, expect, it } from 'vitest';
import { compile } from '../../policy/compile.ts';
import { loadExample } from '../../test/fixtures/examples.ts';
import { fleetObservation, type SidecarReport } from './fleet.ts';
import { mcpServerStatus } from './mcpserver-status.ts';
import { toolsServed } from './tools-served.ts';
import { cel } from '../../policy/cel.ts';

const NOW = '2026-11-22T10:00:00.000Z';
const STALE_BEFORE = '2026-11-22T09:59:00.000Z';
const D = `sha256:${'d'.repeat(64)}`;
const { servers, policies } = loadExample('billing.yaml');
const billing = servers[0]!;

type State = 'Pinned' | 'Drifted' | 'Unpinned' | 'Quarantined';
const tools = (states: Record<string, State>) =>
  Object.entries(states).map(([name, state]) => ({ name, digest: D, state }));

function bundleWith(annotations: Record<string, string> = {}) {
  const compiled = compile({
    server: { ...billing, metadata: { ...billing.metadata, annotations } },
    policies,
    conditions: cel,
  });
  if (!compiled.ok) throw new Error('billing compiles');
  return compiled.bundle;
}

describe('toolsServed', () => {
  it('counts the served tools: published, not quarantined, not killed', () => {
    const result = toolsServed(
      tools({ read_invoice: 'Pinned', list_invoices: 'Quarantined', issue_refund: 'Pinned' }),
      2,
      bundleWith({ 'portcullis.dev/killed-tools': 'issue_refund' }),
    );
    expect(result.served).toBe(1);
    expect(result.blocksReady).toBe(false);
    expect(result.condition).toMatchObject({ type: 'ToolsServed', status: 'True', reason: 'ToolsServed' });
    expect(result.condition.message).toBe('1 of 3 published tool(s) served (1 quarantined, 1 killed)');
  });

  it('says AllToolsQuarantined, and blocks Ready, when every tool is quarantined', () => {
    const result = toolsServed(
      tools({ read_invoice: 'Quarantined', list_invoices: 'Quarantined' }),
      2,
      bundleWith(),
    );
    expect(result).toMatchObject({ served: 0, blocksReady: true });
    expect(result.condition).toMatchObject({ status: 'False', reason: 'AllToolsQuarantined' });
    expect(result.condition.message).toContain('quarantined (definition differs from its pin');
    expect(result.condition.message).toContain('spec.tools.pins');
  });

  it('says NoToolsServed when quarantine and kill switches leave nothing', () => {
    const result = toolsServed(
      tools({ read_invoice: 'Quarantined', issue_refund: 'Pinned' }),
      1,
      bundleWith({ 'portcullis.dev/killed-tools': 'issue_refund' }),
    );
    expect(result).toMatchObject({ served: 0, blocksReady: true });
    expect(result.condition.reason).toBe('NoToolsServed');
  });

  it('does not block Ready for deliberate kill switches or a server without tools', () => {
    const allKilled = toolsServed(
      tools({ read_invoice: 'Pinned' }),
      1,
      bundleWith({ 'portcullis.dev/killed-tools': 'read_invoice' }),
    );
    expect(allKilled).toMatchObject({ served: 0, blocksReady: false });
    expect(allKilled.condition.reason).toBe('AllToolsKilled');
    const serverKilled = toolsServed(
      tools({ read_invoice: 'Quarantined' }),
      1,
      bundleWith({ 'portcullis.dev/kill-switch': 'true' }),
    );
    expect(serverKilled).toMatchObject({ served: 0, blocksReady: false });
    expect(serverKilled.condition.reason).toBe('ServerKilled');
    const none = toolsServed([], 1, bundleWith());
    expect(none).toMatchObject({ served: 0, blocksReady: false });
    expect(none.condition.reason).toBe('NoToolsPublished');
  });

  it('counts tools a killed ToolPolicy selects as killed', () => {
    const killedPolicy = {
      ...policies[0]!,
      metadata: { ...policies[0]!.metadata, annotations: { 'portcullis.dev/kill-switch': 'true' } },
    };
    const compiled = compile({
      server: billing,
      policies: [killedPolicy, ...policies.slice(1)],
      conditions: cel,
    });
    if (!compiled.ok) throw new Error('compiles');
    const result = toolsServed(
      tools({ read_invoice: 'Pinned', list_invoices: 'Pinned', issue_refund: 'Pinned' }),
      1,
      compiled.bundle,
    );
    expect(result.served).toBe(1);
  });

  it('is Unknown without reports', () => {
    const result = toolsServed([], 0, bundleWith());
    expect(result.served).toBeUndefined();
    expect(result.blocksReady).toBe(false);
    expect(result.condition).toMatchObject({ status: 'Unknown', reason: 'NoReports' });
  });
});

describe('mcpServerStatus and the served tools', () => {
  const status = (reports: SidecarReport[] | undefined) =>
    mcpServerStatus({
      server: billing,
      compiled: compile({ server: billing, policies, conditions: cel }),
      workload: { replicas: 2, readyReplicas: 2, desired: 2 },
      endpoint: 'http://billing.finance.svc/mcp',
      now: NOW,
      ...(reports ? { fleet: fleetObservation(reports, STALE_BEFORE) } : {}),
    });
  const report = (sidecar: string, states: Record<string, State>): SidecarReport => ({
    sidecar,
    lastHeartbeat: NOW,
    policyHash: 'sha256:p',
    tools: tools(states),
  });
  const condition = (s: ReturnType<typeof status>, type: string) =>
    s.conditions?.find((c) => c.type === type);

  it('Ready pods serving only quarantined tools are not Ready', () => {
    const s = status([
      report('a', { read_invoice: 'Quarantined', list_invoices: 'Quarantined', issue_refund: 'Quarantined' }),
      report('b', { read_invoice: 'Quarantined', list_invoices: 'Quarantined', issue_refund: 'Quarantined' }),
    ]);
    expect(condition(s, 'WorkloadReady')?.status).toBe('True');
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', reason: 'AllToolsQuarantined' });
    expect(condition(s, 'ToolsServed')).toMatchObject({ status: 'False', reason: 'AllToolsQuarantined' });
    expect(s.servedTools).toBe(0);
  });

  it('a replica that quarantines a tool the others serve makes it count as quarantined', () => {
    const s = status([
      report('a', { read_invoice: 'Pinned', list_invoices: 'Pinned' }),
      report('b', { read_invoice: 'Quarantined', list_invoices: 'Pinned' }),
    ]);
    expect(condition(s, 'Ready')?.status).toBe('True');
    expect(s.servedTools).toBe(1);
  });

  it('without reports: no ToolsServed condition and no count (no collector), Unknown with a collector', () => {
    const none = status(undefined);
    expect(condition(none, 'ToolsServed')).toBeUndefined();
    expect(none.servedTools).toBeUndefined();
    expect(condition(none, 'Ready')?.status).toBe('True');
    const silent = status([]);
    expect(condition(silent, 'ToolsServed')?.status).toBe('Unknown');
    expect(condition(silent, 'Ready')?.status).toBe('True');
  });
});
