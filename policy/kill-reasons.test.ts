import { describe, expect, it } from 'vitest';
import {
  fullKillRecord,
  killedToolReasons,
  PUBLIC_REASON_MAX,
  publicKillReason,
} from '../api/v1alpha1/annotations.ts';
import { loadExample } from '../test/fixtures/examples.ts';
import { principal } from '../test/fixtures/principals.ts';
import { authorize } from './authorize.ts';
import { bundleSchema } from './bundle.ts';
import { compile } from './compile.ts';
import { withLiveServerKills } from './live-kill.ts';
import { loadBundle } from './load.ts';
import { cel } from './cel.ts';

/** Issue #13: each kill switch keeps its own reason, and callers see a bounded one without names. */
const { servers, policies } = loadExample('billing.yaml');
const billing = servers[0]!;
const support = principal();

function compiled(annotations: Record<string, string>) {
  const result = compile({
    server: { ...billing, metadata: { ...billing.metadata, annotations } },
    policies,
    conditions: cel,
  });
  if (!result.ok) throw new Error('billing compiles');
  return result.bundle;
}

const refusal = (annotations: Record<string, string>, tool: string) => {
  const { decision } = authorize(loadBundle(compiled(annotations), cel), {
    principal: support,
    tool,
    args: {},
  });
  if (decision.allowed) throw new Error(`${tool} was allowed`);
  return decision;
};

describe('kill-switch annotations', () => {
  it('parse per-tool records: objects, plain strings, junk ignored, and absent means the older form', () => {
    expect(
      killedToolReasons({
        'portcullis.dev/killed-tools-reasons': JSON.stringify({
          a: { reason: 'SEC-1', by: ' alice ' },
          b: 'plain',
          c: 42,
          d: { reason: 7, by: '' },
        }),
      }),
    ).toEqual({ a: { reason: 'SEC-1', by: 'alice' }, b: { reason: 'plain' }, d: {} });
    expect(killedToolReasons({})).toBeUndefined();
    expect(killedToolReasons({ 'portcullis.dev/killed-tools-reasons': 'not json' })).toEqual({});
    expect(killedToolReasons({ 'portcullis.dev/killed-tools-reasons': '["a"]' })).toEqual({});
  });

  it('show callers a first line, bounded, without who engaged the switch', () => {
    expect(publicKillReason({ reason: 'INC-7  refunds\nto the wrong accounts (alice)', by: 'alice' })).toBe(
      'INC-7 refunds',
    );
    expect(publicKillReason({ reason: 'alice: INC-7', by: 'alice' })).toBe('INC-7');
    expect(publicKillReason({ by: 'alice' })).toBeUndefined();
    const long = publicKillReason({ reason: 'x'.repeat(500) })!;
    expect(long).toHaveLength(PUBLIC_REASON_MAX);
    expect(long.endsWith('…')).toBe(true);
    expect(fullKillRecord({ reason: 'INC-7', by: 'alice' })).toBe('alice: INC-7');
    expect(fullKillRecord({ reason: 'INC-7' })).toBe('INC-7');
  });
});

describe('reasons per switch', () => {
  const both = {
    'portcullis.dev/killed-tools': 'issue_refund,read_invoice',
    'portcullis.dev/killed-tools-reasons': JSON.stringify({
      issue_refund: { reason: 'SEC-1 refunds to the wrong accounts', by: 'bob' },
    }),
    'portcullis.dev/kill-reason': 'INC-9 the whole server',
    'portcullis.dev/killed-by': 'alice',
  };

  it('compile keeps the server record and each tool record apart', () => {
    const bundle = compiled({ ...both, 'portcullis.dev/kill-switch': 'true' });
    expect(bundle.kill.server).toEqual([
      { source: 'McpServer', name: 'billing', reason: 'INC-9 the whole server', by: 'alice' },
    ]);
    expect(bundle.kill.toolReasons).toEqual({
      issue_refund: { reason: 'SEC-1 refunds to the wrong accounts', by: 'bob' },
    });
    expect(bundle.kill).not.toHaveProperty('reason');
    expect(bundleSchema.parse(bundle)).toEqual(bundle);
  });

  it("a killed tool shows its own reason, not the server's; nobody's name reaches the caller", () => {
    const decision = refusal(both, 'issue_refund');
    expect(decision.code).toBe('killed');
    expect(decision.publicReason).toBe(
      'kill switch on tool issue_refund: SEC-1 refunds to the wrong accounts',
    );
    // The full record (who and why) is what the audit event records.
    expect(decision.reason).toBe(
      'kill switch on tool issue_refund: bob: SEC-1 refunds to the wrong accounts',
    );
    // A tool killed without a reason of its own does not borrow the server switch's.
    expect(refusal(both, 'read_invoice').publicReason).toBe('kill switch on tool read_invoice');
  });

  it('the server switch shows its own reason, without its actor', () => {
    const decision = refusal({ ...both, 'portcullis.dev/kill-switch': 'true' }, 'list_invoices');
    expect(decision.publicReason).toBe('kill switch on McpServer billing: INC-9 the whole server');
    expect(decision.reason).toBe('kill switch on McpServer billing: alice: INC-9 the whole server');
  });

  it('older annotations (no killed-tools-reasons) compile to the bundle older sidecars accept', () => {
    const legacy = compiled({
      'portcullis.dev/killed-tools': 'issue_refund',
      'portcullis.dev/kill-reason': 'SEC-1',
    });
    expect(legacy.kill).toEqual({ server: [], tools: ['issue_refund'], reason: 'SEC-1' });
    expect(
      refusal(
        { 'portcullis.dev/killed-tools': 'issue_refund', 'portcullis.dev/kill-reason': 'SEC-1' },
        'issue_refund',
      ).publicReason,
    ).toBe('kill switch on tool issue_refund: SEC-1');
  });

  it('the sidecar applies live annotations the same way', () => {
    const live = withLiveServerKills(compiled({}), both);
    expect(live.kill).toEqual(compiled(both).kill);
    expect(live.hash).toBe(compiled(both).hash);
  });
});
