// Pods that run one of the repository's own scripts (test/e2e/pods/*.ts) with Node from the product
// image: the checkout is mounted read-only at /repo (a hostPath: this is a one-node test cluster), so
// test programs need no image of their own and always run the code under test.
import { resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');

export interface ScriptPodSpec {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  /** Relative to the repository, e.g. test/e2e/pods/mcp-client.ts. */
  readonly script: string;
  readonly env?: Record<string, string>;
  readonly labels?: Record<string, string>;
  /** Secrets or ConfigMaps mounted read-only: mount path -> volume source. */
  readonly mounts?: Record<string, Record<string, unknown>>;
  readonly restartPolicy?: 'Never' | 'Always';
}

export function scriptPodSpec(spec: ScriptPodSpec): Record<string, unknown> {
  const mounts = Object.entries(spec.mounts ?? {});
  return {
    restartPolicy: spec.restartPolicy ?? 'Never',
    terminationGracePeriodSeconds: 1,
    // Root (without capabilities): the checkout may sit below a directory only its owner, root, may enter
    // (CI's clean checkout in a mktemp directory is 0700), and these pods only read it.
    securityContext: { runAsUser: 0, runAsGroup: 0 },
    containers: [
      {
        name: 'main',
        image: spec.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/usr/local/bin/node', `/repo/${spec.script}`],
        env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        volumeMounts: [
          { name: 'repo', mountPath: '/repo', readOnly: true },
          ...mounts.map(([mountPath], index) => ({ name: `mount-${index}`, mountPath, readOnly: true })),
        ],
      },
    ],
    volumes: [
      { name: 'repo', hostPath: { path: REPO, type: 'Directory' } },
      ...mounts.map(([, source], index) => ({ name: `mount-${index}`, ...source })),
    ],
  };
}

export function scriptPod(spec: ScriptPodSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: spec.name, namespace: spec.namespace, labels: { app: spec.name, ...spec.labels } },
    spec: scriptPodSpec(spec),
  };
}
