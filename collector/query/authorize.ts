import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { GROUP } from '../../api/v1alpha1/group.ts';
import { kubeRequest } from '../../kube/rest.ts';
import type { TokenAuthenticator, UserInfo } from '../auth/authenticator.ts';
import { TokenCache, tokenCacheKey } from '../../lib/token-cache.ts';
import { CollectorError } from '../errors.ts';
import { bearerToken } from '../http/body.ts';

/**
 * Who may read audit events: Kubernetes RBAC decides. Reading events of a namespace is `get` on
 * `mcpservers/audit` (group portcullis.dev) in that namespace; reading across namespaces (no namespace
 * filter) needs it cluster-wide. A Role can grant a team its own namespace's trail without the rest.
 */
export interface QueryAuthorizer {
  /** Resolves when the request may read events of `namespace` (undefined: every namespace); throws otherwise. */
  authorize(request: IncomingMessage, namespace: string | undefined): Promise<void>;
}

/** --query-auth none: everyone may read (loopback only; the config refuses anything else). */
export const openQueryAuthorizer: QueryAuthorizer = { authorize: async () => {} };

const SAR_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';
const sarStatus = z.object({
  status: z
    .object({ allowed: z.boolean().default(false), reason: z.string().optional() })
    .default({ allowed: false }),
});

export function kubernetesQueryAuthorizer(options: {
  readonly kube: KubeConfig;
  /** A TokenReview authenticator without audiences (the readers' ordinary API credentials). */
  readonly authenticator: TokenAuthenticator;
  readonly clock: () => number;
  /** How long an allow is reused; denials are not cached (a RoleBinding just created works at once). */
  readonly cacheTtlMs?: number;
}): QueryAuthorizer {
  const allowed = new TokenCache<true>(4096);
  const ttl = options.cacheTtlMs ?? 10_000;
  return {
    async authorize(request, namespace) {
      const token = bearerToken(request);
      if (token === undefined) throw new CollectorError('missing_token', 'a bearer token is required');
      const key = `${tokenCacheKey(token)} ${namespace ?? ''}`;
      if (allowed.get(key, options.clock()) !== undefined) return;
      const { user, expiresAt } = await options.authenticator.authenticate(token);
      if (!(await subjectAccessReview(options.kube, user, namespace))) {
        throw new CollectorError(
          'forbidden',
          `${user.username} may not get mcpservers/audit ${namespace === undefined ? 'cluster-wide (no namespace filter)' : `in namespace ${namespace}`}`,
        );
      }
      const now = options.clock();
      allowed.set(key, true, Math.min(now + ttl, expiresAt ?? Number.POSITIVE_INFINITY));
    },
  };
}

async function subjectAccessReview(
  kube: KubeConfig,
  user: UserInfo,
  namespace: string | undefined,
): Promise<boolean> {
  let response: unknown;
  try {
    response = await kubeRequest(kube, 'POST', SAR_PATH, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: user.username,
        ...(user.uid ? { uid: user.uid } : {}),
        groups: user.groups,
        extra: user.extra,
        resourceAttributes: {
          group: GROUP,
          resource: 'mcpservers',
          subresource: 'audit',
          verb: 'get',
          ...(namespace === undefined ? {} : { namespace }),
        },
      },
    });
  } catch (error) {
    throw new CollectorError('auth_unavailable', `SubjectAccessReview failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return sarStatus.safeParse(response).data?.status.allowed === true;
}
