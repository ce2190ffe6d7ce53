import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { CollectorError } from '../errors.ts';
import { invalidToken, type TokenAuthenticator } from './authenticator.ts';
import { serviceAccountOf } from './identity.ts';

/** What Kubernetes signs service-account tokens with (RSA or ECDSA keys); never HS* or none. */
const ALGORITHMS = ['RS256', 'ES256', 'ES384', 'ES512'];

const kubernetesClaim = z.object({
  namespace: z.string().min(1),
  serviceaccount: z.object({ name: z.string().min(1), uid: z.string().min(1) }),
  pod: z.object({ name: z.string().min(1), uid: z.string().min(1) }),
});

export interface JwksAuthenticatorSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: JWTVerifyGetKey;
  readonly clock: () => number;
}

/**
 * Verifies a projected service-account token locally: signature against the issuer's JWKS, iss, aud,
 * exp (required) and nbf, and the `kubernetes.io` claim naming the service account and the pod the token
 * is bound to (a projected token always is; a token from a Secret or not bound to a pod is refused).
 * Unlike TokenReview this cannot see that the account or the pod was deleted: such a token stays valid
 * until it expires (projected tokens live an hour at most by default, and are bound to the pod).
 */
export function jwksAuthenticator(settings: JwksAuthenticatorSettings): TokenAuthenticator {
  return {
    async authenticate(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, settings.keys, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: ALGORITHMS,
          requiredClaims: ['exp', 'sub'],
          clockTolerance: 5,
          currentDate: new Date(settings.clock()),
        }));
      } catch (error) {
        if (error instanceof CollectorError) throw error;
        if (error instanceof errors.JOSEError || error instanceof TypeError)
          throw invalidToken(describe(error));
        throw new CollectorError(
          'auth_unavailable',
          `token verification failed: ${(error as Error).message}`,
        );
      }
      const claim = kubernetesClaim.safeParse(payload['kubernetes.io']);
      const account = serviceAccountOf(payload.sub ?? '');
      if (!claim.success || account === undefined) {
        throw invalidToken(
          'not a projected service-account token (kubernetes.io claim with pod and serviceaccount)',
        );
      }
      if (claim.data.namespace !== account.namespace || claim.data.serviceaccount.name !== account.name) {
        throw invalidToken('the token subject and its kubernetes.io claim disagree');
      }
      return {
        user: {
          username: payload.sub!,
          uid: claim.data.serviceaccount.uid,
          groups: [
            'system:serviceaccounts',
            `system:serviceaccounts:${account.namespace}`,
            'system:authenticated',
          ],
          extra: {
            'authentication.kubernetes.io/pod-name': [claim.data.pod.name],
            'authentication.kubernetes.io/pod-uid': [claim.data.pod.uid],
          },
        },
        expiresAt: payload.exp! * 1000,
      };
    },
  };
}

/** Why jose refused, without the token or its claims. */
function describe(error: Error): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `the token's ${error.claim} claim is not acceptable`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token is not signed with an allowed algorithm';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is not signed by a key of the issuer';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  return 'the token is malformed';
}
