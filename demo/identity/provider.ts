import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { COLLECTOR_AUDIENCE, sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';
import { AGENTS, ALL_SCOPES, USERS, type DemoUser } from '../cast.ts';
import { signInAtOnce } from './login-page.ts';
import { MemoryAdapter } from './memory-adapter.ts';
import {
  COLLECTOR_RESOURCE,
  REDIRECT_URI,
  serviceAccountClientId,
  serviceAccountClientSecret,
} from './protocol.ts';

/**
 * The demo's OpenID provider: oidc-provider (a certified implementation), configured for
 *  - the agents: confidential clients signing users in with the authorization code flow + PKCE and an
 *    RFC 8707 resource indicator, getting RFC 9068 JWT access tokens for the MCP server;
 *  - the sidecar's audit credentials: a client per McpServer whose client-credentials token looks like
 *    the projected service-account token the kubelet would mount (sub system:serviceaccount:<ns>:<server>-mcp,
 *    audience portcullis-collector, a kubernetes.io claim), which the collector verifies with --auth jwks.
 * The login page is the one piece that is not a real one: it signs in the user named by login_hint at
 * once, the step where a real provider shows a form.
 */
export interface DemoIdentityOptions {
  /** The iss of every token; need not be where the provider listens (the sidecar is given --jwks-uri). */
  readonly issuer: string;
  /** Resource indicators (McpServer audiences) tokens may be issued for. */
  readonly resources: readonly string[];
  /** McpServers whose sidecars get collector credentials. */
  readonly servers: readonly { readonly namespace: string; readonly name: string }[];
  readonly accessTokenTtlSeconds: number;
}

export interface DemoIdentityProvider {
  /** Serves every request: the provider's endpoints and the automatic login page. */
  handle(request: IncomingMessage, response: ServerResponse): void;
}

/** The part of oidc-provider's API used here (the package ships no type declarations). */
export interface OidcProvider {
  callback(): (request: IncomingMessage, response: ServerResponse) => void;
  interactionDetails(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<{ prompt: { name: string }; params: Record<string, unknown> }>;
  interactionFinished(
    request: IncomingMessage,
    response: ServerResponse,
    result: Record<string, unknown>,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: new (properties: { accountId: string; clientId: string }) => OidcGrant;
}
type OidcProviderConstructor = new (issuer: string, configuration: object) => OidcProvider;

interface OidcGrant {
  addOIDCScope(scope: string): void;
  addResourceScope(resource: string, scope: string): void;
  rejectResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

/** What oidc-provider hands the hooks below; only these fields are read. */
interface HookContext {
  oidc: {
    client?: { clientId: string };
    params?: Record<string, unknown>;
    session?: { accountId?: string; grantIdFor(clientId: string, grantId?: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    provider: OidcProvider & { Grant: { find(id: string): Promise<OidcGrant | undefined> } };
  };
}
interface HookToken {
  accountId?: string;
  clientId?: string;
}

const INTERACTION_PATH = /^\/interaction\/[A-Za-z0-9_-]+$/;

export async function createDemoIdentityProvider(
  options: DemoIdentityOptions,
): Promise<DemoIdentityProvider> {
  // A non-literal specifier keeps TypeScript from looking for declarations the package does not have.
  const moduleName: string = 'oidc-provider';
  const { Provider } = (await import(moduleName)) as { Provider: OidcProviderConstructor };
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'demo-es256', alg: 'ES256', use: 'sig' };
  const serviceAccounts = new Map(
    options.servers.map((server) => [serviceAccountClientId(server), server] as const),
  );

  const usersById = new Map<string, DemoUser>(Object.values(USERS).map((user) => [user.id, user]));
  const requestedScopes = (requested: unknown) =>
    String(requested ?? '')
      .split(' ')
      .filter((scope) => scope !== '' && scope !== 'openid');

  const provider = new Provider(options.issuer, {
    adapter: MemoryAdapter,
    jwks: { keys: [signingKey] },
    cookies: { keys: [crypto.randomUUID()] },
    scopes: ['openid'],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    clients: [
      ...Object.values(AGENTS).map((agent) => ({
        client_id: agent.id,
        client_secret: agent.secret,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_post',
      })),
      ...[...serviceAccounts.keys()].map((clientId) => ({
        client_id: clientId,
        client_secret: serviceAccountClientSecret(clientId),
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      })),
    ],
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      ClientCredentials: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 300,
      Session: options.accessTokenTtlSeconds,
      Grant: options.accessTokenTtlSeconds,
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, id: string) =>
      usersById.has(id) ? { accountId: id, claims: () => ({ sub: id }) } : undefined,
    // The agents are first-party clients: the user's consent is implied, limited to the scopes the
    // user holds. (A third-party client would get a consent prompt here.)
    loadExistingGrant: async (ctx: HookContext) => {
      const { client, session, params, provider: self } = ctx.oidc;
      if (client === undefined || session === undefined) return undefined;
      const existing = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) return self.Grant.find(existing);
      const user = usersById.get(session.accountId ?? '');
      if (user === undefined) return undefined;
      const grant = new self.Grant({ accountId: user.id, clientId: client.clientId });
      grant.addOIDCScope('openid');
      const resource = params?.['resource'];
      if (typeof resource === 'string') {
        // Scopes the user does not hold are rejected, not prompted for: the token carries the rest.
        const requested = requestedScopes(params?.['scope']);
        grant.addResourceScope(resource, requested.filter((scope) => user.scopes.includes(scope)).join(' '));
        grant.rejectResourceScope(
          resource,
          requested.filter((scope) => !user.scopes.includes(scope)).join(' '),
        );
      }
      const grantId = await grant.save();
      session.grantIdFor(client.clientId, grantId);
      return grant;
    },
    extraTokenClaims: (_ctx: unknown, token: HookToken) => {
      const user = usersById.get(token.accountId ?? '');
      if (user !== undefined) {
        return { azp: token.clientId, groups: [...user.groups], tenant_id: user.tenant };
      }
      const server = serviceAccounts.get(token.clientId ?? '');
      if (server === undefined) return undefined;
      // The token's sub is its client id, system:serviceaccount:<ns>:<server>-mcp; a projected token
      // also carries this claim, naming the account and the pod it is bound to.
      const account = sidecarServiceAccountName(server.name);
      return {
        'kubernetes.io': {
          namespace: server.namespace,
          serviceaccount: { name: account, uid: `demo-${server.namespace}-${account}` },
          pod: { name: `${server.name}-demo`, uid: `demo-${server.namespace}-${server.name}-pod` },
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: { clientId: string }) => {
          const jwt = { sign: { alg: 'ES256' } };
          if (resource === COLLECTOR_RESOURCE && serviceAccounts.has(client.clientId)) {
            return {
              scope: '',
              audience: COLLECTOR_AUDIENCE,
              accessTokenFormat: 'jwt',
              accessTokenTTL: options.accessTokenTtlSeconds,
              jwt,
            };
          }
          if (!options.resources.includes(resource) || serviceAccounts.has(client.clientId)) {
            throw new Error(`this identity provider issues no tokens for ${resource}`);
          }
          return {
            scope: ALL_SCOPES.join(' '),
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: options.accessTokenTtlSeconds,
            jwt,
          };
        },
      },
    },
  });

  const providerCallback = provider.callback();
  return {
    handle(request, response) {
      if (!INTERACTION_PATH.test(new URL(request.url ?? '/', 'http://idp').pathname))
        return providerCallback(request, response);
      signInAtOnce(provider, new Set(usersById.keys()), request, response).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(`interaction failed: ${(error as Error).message}`);
      });
    },
  };
}
