import { describe, expect, it } from 'vitest';
import { forDeploymentCache, forServerCache } from './cache-transforms.ts';

describe('informer cache transforms', () => {
  it('keeps of a Deployment only metadata and replica counts', () => {
    const kept = forDeploymentCache({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'billing-mcp', namespace: 'finance', labels: { a: 'b' }, annotations: { c: 'd' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { a: 'b' } },
        template: { spec: { containers: [{ name: 'server', image: 'x' }] } },
      },
      status: { replicas: 2, readyReplicas: 1, conditions: [{ type: 'Available', status: 'False' }] },
    });
    expect(kept).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'billing-mcp', namespace: 'finance', labels: { a: 'b' }, annotations: { c: 'd' } },
      spec: { replicas: 2 },
      status: {
        replicas: 2,
        readyReplicas: 1,
        availableReplicas: undefined,
        updatedReplicas: undefined,
        observedGeneration: undefined,
      },
    });
  });

  it("drops kubectl's last-applied copy from servers and policies, and nothing else", () => {
    const server = {
      apiVersion: 'portcullis.dev/v1alpha1',
      kind: 'McpServer',
      metadata: {
        name: 'billing',
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"a huge":"copy"}',
          'portcullis.dev/kill-switch': 'true',
        },
      },
      spec: { x: 1 },
    };
    expect(forServerCache(server)).toEqual({
      ...server,
      metadata: { name: 'billing', annotations: { 'portcullis.dev/kill-switch': 'true' } },
    });
    const plain = { apiVersion: 'v1', kind: 'X', metadata: { name: 'p' } };
    expect(forServerCache(plain)).toBe(plain);
  });
});
