import { wwwAuthenticate } from './auth/challenge.ts';
import { resourceMetadataUrl } from './auth/resource-metadata.ts';
import type { SidecarContext } from './context.ts';
import type { Rejection } from './reject.ts';

/**
 * WWW-Authenticate for identity refusals (RFC 6750 / RFC 9728): where the protected resource metadata
 * lives, and for missing scopes which ones, so a client can obtain the right token.
 */
export function authChallengeHeaders(rejection: Rejection, context: SidecarContext): Record<string, string> {
  const publicUrl = context.policy.current?.bundle.spec.auth.publicUrl;
  if (publicUrl === undefined) return {};
  const metadata = resourceMetadataUrl(publicUrl);
  switch (rejection.code) {
    case 'missing_token':
    case 'invalid_token':
      return {
        'www-authenticate': wwwAuthenticate({ code: rejection.code, reason: rejection.reason }, metadata),
      };
    case 'insufficient_scope':
      return {
        'www-authenticate': wwwAuthenticate(
          {
            code: 'insufficient_scope',
            reason: rejection.reason,
            missingScopes: rejection.missingScopes ?? [],
          },
          metadata,
        ),
      };
    default:
      return {};
  }
}
