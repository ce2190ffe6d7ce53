import { describe, expect, it } from 'vitest';
import { loadExample } from '../test/fixtures/examples.ts';
import { compile } from './compile.ts';
import { withLiveServerKills } from './live-kill.ts';
import { cel } from './cel.ts';

const { servers, policies } = loadExample('billing.yaml');

function bundle(annotations: Record<string, string> = {}, namespaceAnnotations: Record<string, string> = {}) {
  const server = { ...servers[0]!, metadata: { ...servers[0]!.metadata, annotations } };
  const result = compile({ server, policies, namespaceAnnotations, conditions: cel });
  if (!result.ok) throw new Error('compile');
  return result.bundle;
}

describe('withLiveServerKills', () => {
  it('engages the server and tool switches from live annotations, with a new hash', () => {
    const live = withLiveServerKills(bundle(), {
      'portcullis.dev/kill-switch': 'true',
      'portcullis.dev/killed-tools': 'issue_refund',
      'portcullis.dev/kill-reason': 'SEC-7',
    });
    expect(live.kill).toEqual({
      server: [{ source: 'McpServer', name: 'billing', reason: 'SEC-7' }],
      tools: ['issue_refund'],
      reason: 'SEC-7',
    });
    expect(live.hash).toBe(
      bundle({
        'portcullis.dev/kill-switch': 'true',
        'portcullis.dev/killed-tools': 'issue_refund',
        'portcullis.dev/kill-reason': 'SEC-7',
      }).hash,
    );
  });

  it('releases the server switch without touching the Namespace switch the operator compiled', () => {
    const compiled = bundle(
      { 'portcullis.dev/kill-switch': 'true' },
      { 'portcullis.dev/kill-switch': 'true' },
    );
    const live = withLiveServerKills(compiled, {});
    expect(live.kill.server).toEqual([{ source: 'Namespace', name: 'finance' }]);
  });

  it('is the identity when the annotations agree with the bundle', () => {
    const compiled = bundle({ 'portcullis.dev/killed-tools': 'read_invoice' });
    expect(withLiveServerKills(compiled, { 'portcullis.dev/killed-tools': 'read_invoice' })).toEqual(
      compiled,
    );
  });
});
