import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { kubeRequest } from '../../kube/rest.ts';
import { CollectorError } from '../errors.ts';
import { invalidToken, type TokenAuthenticator } from './authenticator.ts';

const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

const tokenReviewStatus = z.object({
  status: z
    .object({
      authenticated: z.boolean().optional(),
      audiences: z.array(z.string()).optional(),
      error: z.string().optional(),
      user: z
        .object({
          username: z.string().default(''),
          uid: z.string().optional(),
          groups: z.array(z.string()).default([]),
          extra: z.record(z.string(), z.array(z.string())).default({}),
        })
        .optional(),
    })
    .default({}),
});

/**
 * Asks the API server who a token belongs to (TokenReview). The API server checks signature, expiry,
 * audience, and that the ServiceAccount (and the pod a projected token is bound to) still exist.
 * `audiences`: the token must be for one of these (sidecars: the collector's audience); omitted, the API
 * server's own (readers of the query API use their ordinary credentials). The collector's account needs
 * `create tokenreviews` (ClusterRole system:auth-delegator).
 */
export function tokenReviewAuthenticator(
  kube: KubeConfig,
  audiences?: readonly string[],
): TokenAuthenticator {
  return {
    async authenticate(token) {
      let response: unknown;
      try {
        response = await kubeRequest(kube, 'POST', TOKEN_REVIEW_PATH, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token, ...(audiences ? { audiences } : {}) },
        });
      } catch (error) {
        throw new CollectorError('auth_unavailable', `TokenReview failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const parsed = tokenReviewStatus.safeParse(response);
      if (!parsed.success) throw new CollectorError('auth_unavailable', 'TokenReview: unexpected response');
      const { status } = parsed.data;
      // The API server's reason is not passed on: it may say which part of a forgery was wrong.
      if (status.authenticated !== true || status.user === undefined || status.user.username === '') {
        throw invalidToken('the token was not accepted');
      }
      // An API server that ignores spec.audiences answers without them: then the audience was not checked.
      if (audiences && !audiences.some((audience) => status.audiences?.includes(audience))) {
        throw invalidToken('the token is not for this audience');
      }
      return { user: status.user };
    },
  };
}
