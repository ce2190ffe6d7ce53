import { expectedAudience, type AuthSettings } from './settings.ts';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * The OAuth 2.0 Protected Resource Metadata document (RFC 9728) that tells an MCP client which
 * authorization server issues tokens for this server. Built from configuration only, never from request
 * headers, so a forged Host header cannot point clients at another authorization server.
 */
export function protectedResourceMetadata(settings: AuthSettings, scopesSupported?: string[]): object {
  const scopes = [...new Set([...(settings.requiredScopes ?? []), ...(scopesSupported ?? [])])];
  return {
    resource: expectedAudience(settings),
    authorization_servers: [settings.issuer],
    bearer_methods_supported: ['header'],
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
  };
}

/**
 * Paths to serve the document at: the root well-known path, and the one with the resource's path
 * appended (RFC 9728 section 3.1), which MCP clients try first. The query of publicUrl is not part of it.
 */
export function resourceMetadataPaths(publicUrl: string): string[] {
  const suffixed = suffixedPath(publicUrl);
  return suffixed === WELL_KNOWN ? [WELL_KNOWN] : [WELL_KNOWN, suffixed];
}

/** The absolute URL of the path-suffixed document, advertised in WWW-Authenticate challenges. */
export function resourceMetadataUrl(publicUrl: string): string {
  return new URL(publicUrl).origin + suffixedPath(publicUrl);
}

function suffixedPath(publicUrl: string): string {
  const { pathname } = new URL(publicUrl);
  // RFC 9728: a terminating slash right after the host is not part of the resource's path.
  return pathname === '/' ? WELL_KNOWN : WELL_KNOWN + pathname;
}
