import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from './authenticator.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';
import { CLIENT_ID, startOidcIssuer, type OidcIssuer } from '../../test/fixtures/auth/oidc-issuer.ts';

// End to end with a real OpenID provider: discovery, JWKS and RFC 9068 JWT access tokens from the client
// credentials grant with an RFC 8707 resource indicator.
const RESOURCE = 'https://billing.mcp.example.com/mcp';
const OTHER_RESOURCE = 'https://crm.mcp.example.com/mcp';

let idp: OidcIssuer;
beforeAll(async () => {
  idp = await startOidcIssuer([RESOURCE, OTHER_RESOURCE], ['mcp:call', 'invoices:read']);
});
afterAll(() => idp.close());

function authenticator(requiredScopes?: string[]) {
  // No jwksUri: the JWKS is found through the provider's discovery document.
  return createAuthenticator(
    authSettings({
      issuer: idp.issuer,
      publicUrl: RESOURCE,
      algorithms: ['ES256'],
      ...(requiredScopes ? { requiredScopes } : {}),
    }),
  );
}

describe('tokens from oidc-provider', () => {
  it('authenticates an at+jwt access token issued for this resource', async () => {
    const token = await idp.token({ resource: RESOURCE, scope: 'mcp:call invoices:read' });
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const result = await authenticator(['mcp:call']).authenticate(`Bearer ${token}`);
    if (!result.ok) throw new Error(result.failure.reason);
    expect(result.principal).toMatchObject({
      user: CLIENT_ID,
      agent: CLIENT_ID,
      scopes: ['mcp:call', 'invoices:read'],
    });
    expect(result.principal.claims).toMatchObject({ iss: idp.issuer, aud: RESOURCE, client_id: CLIENT_ID });
    expect(result.tokenId).toEqual(expect.any(String));
  });

  it('maps delegation and groups claims added by the provider', async () => {
    const token = await idp.token({
      resource: RESOURCE,
      scope: 'mcp:call',
      extraClaims: { sub: 'alice', groups: ['support'], act: { sub: 'claude-desktop' } },
    });
    const result = await authenticator().authenticate(`Bearer ${token}`);
    expect(result).toMatchObject({
      ok: true,
      principal: { user: 'alice', agent: 'claude-desktop', groups: ['support'] },
    });
  });

  it('refuses a token the same provider issued for another resource', async () => {
    const token = await idp.token({ resource: OTHER_RESOURCE, scope: 'mcp:call' });
    const result = await authenticator().authenticate(`Bearer ${token}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'invalid_token', reason: expect.stringContaining('"aud"') },
    });
  });

  it('reports insufficient_scope for a token without a required scope', async () => {
    const token = await idp.token({ resource: RESOURCE, scope: 'invoices:read' });
    const result = await authenticator(['mcp:call']).authenticate(`Bearer ${token}`);
    expect(result).toMatchObject({
      ok: false,
      failure: { code: 'insufficient_scope', missingScopes: ['mcp:call'] },
    });
  });
});
