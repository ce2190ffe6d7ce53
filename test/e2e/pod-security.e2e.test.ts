// Pod Security on a real API server: the egress lock's init container needs NET_ADMIN and root, which
// the `restricted` and `baseline` levels forbid. In a namespace labelled enforce=restricted the server's
// pods are refused at admission, and the reason says why; `privileged` admits them (docs/install.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../cluster/wait.ts';
import { apply, ensureNamespace, kubectl } from './kube.ts';
import { ensurePlatform, exampleObjects } from './platform.ts';

const RESTRICTED = 'e2e-restricted';

describe('Pod Security admission', () => {
  beforeAll(async () => {
    await ensurePlatform();
    ensureNamespace(RESTRICTED, { 'pod-security.kubernetes.io/enforce': 'restricted' });
    const [billing] = exampleObjects('billing.yaml').filter((o) => o.kind === 'McpServer');
    apply([{ ...billing!, metadata: { name: 'billing', namespace: RESTRICTED } }]);
  });
  afterAll(() => {
    kubectl(['delete', 'namespace', RESTRICTED, '--wait=false']);
  });

  it('refuses the egress lock in a restricted namespace, naming NET_ADMIN and the root init container', async () => {
    let events = '';
    await waitFor('the ReplicaSet to report the refusal', 120_000, () => {
      events = kubectl([
        '-n',
        RESTRICTED,
        'get',
        'events',
        '--field-selector=reason=FailedCreate',
        '-o',
        'jsonpath={.items[*].message}',
      ]);
      return events.includes('violates PodSecurity');
    });
    expect(events).toContain('"restricted:latest"');
    expect(events).toContain('NET_ADMIN');
    expect(events).toMatch(/egress-lock/);
    expect(kubectl(['-n', RESTRICTED, 'get', 'pods', '-o', 'name']).trim()).toBe('');
  });
});
