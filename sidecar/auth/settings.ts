import type { McpServerSpec } from '../../api/v1alpha1/mcpserver.ts';

/** The `auth` block of an McpServer, already defaulted by the API schema (algorithms, clock skew, claims). */
export type AuthSettings = McpServerSpec['auth'];

/**
 * The audience tokens must carry: the canonical resource URI of this server (RFC 8707). It defaults to the
 * public URL, because that is the resource a client names when it asks the authorization server for a token.
 */
export function expectedAudience(settings: AuthSettings): string {
  return settings.audience ?? settings.publicUrl;
}
