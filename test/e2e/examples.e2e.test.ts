// A platform team's first minutes: with the chart installed, `kubectl apply -f examples/` brings the HTTP
// server and the stdio server (through the bridge, which installs itself) to Ready, pods 2/2.
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl, kubectlJson } from './kube.ts';
import { ensurePlatform, waitForCondition } from './platform.ts';

interface PodList {
  items: {
    metadata: { name: string };
    status: {
      phase?: string;
      containerStatuses?: { name: string; ready: boolean }[];
      initContainerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[];
    };
  }[];
}

const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const SERVERS = [
  { namespace: 'finance', name: 'billing', init: ['egress-lock'] },
  { namespace: 'knowledge', name: 'docs-search', init: ['egress-lock', 'install-stdio-bridge'] },
];

describe('kubectl apply -f examples/', () => {
  beforeAll(async () => {
    await ensurePlatform();
    kubectl(['apply', '-f', EXAMPLES]);
  });

  it.each(SERVERS)('$namespace/$name reaches Ready with every pod 2/2', async ({ namespace, name, init }) => {
    await waitForCondition(namespace, `mcpserver/${name}`, 'Ready');
    const pods = kubectlJson<PodList>([
      '-n',
      namespace,
      'get',
      'pods',
      '-l',
      `portcullis.dev/server=${name}`,
    ]);
    const running = pods.items.filter((pod) => pod.status.phase === 'Running');
    expect(running.length).toBeGreaterThanOrEqual(1);
    for (const pod of running) {
      const containers = pod.status.containerStatuses ?? [];
      expect(containers.map((c) => c.name).sort(), pod.metadata.name).toEqual(['portcullis', 'server']);
      expect(
        containers.every((c) => c.ready),
        pod.metadata.name,
      ).toBe(true);
      // The init containers ran to success: the egress lock is in place, the bridge installed itself.
      const inits = pod.status.initContainerStatuses ?? [];
      expect(inits.map((c) => c.name).sort()).toEqual([...init].sort());
      expect(inits.every((c) => c.state?.terminated?.exitCode === 0)).toBe(true);
    }
  });
});
