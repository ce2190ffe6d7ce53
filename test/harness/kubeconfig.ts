import { stringify } from 'yaml';
import type { TokenUser } from './static-tokens.ts';

export const CLUSTER_NAME = 'portcullis';

/** The context name for `user` in kubeconfigs written by renderKubeconfig, e.g. "portcullis-alice". */
export function contextName(user: string): string {
  return `${CLUSTER_NAME}-${user}`;
}

/**
 * A kubeconfig for the test cluster with one context per user; the first user's context is
 * current. The CA is inlined so the file works on its own, with TLS verification on.
 */
export function renderKubeconfig(serverUrl: string, caPem: string, users: readonly TokenUser[]): string {
  const [current] = users;
  if (current === undefined) throw new Error('a kubeconfig needs at least one user');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: CLUSTER_NAME,
        cluster: {
          server: serverUrl,
          'certificate-authority-data': Buffer.from(caPem).toString('base64'),
        },
      },
    ],
    users: users.map((user) => ({ name: user.name, user: { token: user.token } })),
    contexts: users.map((user) => ({
      name: contextName(user.name),
      context: { cluster: CLUSTER_NAME, user: user.name },
    })),
    'current-context': contextName(current.name),
  });
}
