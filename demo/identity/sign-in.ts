import { createHash, randomBytes } from 'node:crypto';
import type { DemoAgent, DemoUser } from '../cast.ts';
import {
  COLLECTOR_RESOURCE,
  REDIRECT_URI,
  serviceAccountClientId,
  serviceAccountClientSecret,
} from './protocol.ts';

/** Where the demo identity provider listens, and the issuer its tokens and metadata name. */
export interface IdentityEndpoint {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** e.g. https://id.demo.example: the provider's URLs use it; requests go to `url` instead. */
  readonly issuer: string;
}

export class SignInError extends Error {
  readonly code = 'sign_in_failed';
  constructor(message: string) {
    super(message);
    this.name = 'SignInError';
  }
}

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_REDIRECTS = 8;

/**
 * An agent signs a user in and gets an access token for `resource`: the authorization code flow with
 * PKCE (S256), an RFC 8707 resource indicator and login_hint, followed redirect by redirect the way a
 * browser would, carrying the provider's cookies. The provider's automatic login page stands in for the
 * form a person would fill in.
 */
export async function signIn(
  idp: IdentityEndpoint,
  request: {
    readonly user: DemoUser;
    readonly agent: DemoAgent;
    readonly resource: string;
    readonly scopes: readonly string[];
  },
): Promise<string> {
  const { authorization_endpoint: authorize, token_endpoint: tokenEndpoint } = await discover(idp);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const start = new URL(authorize);
  for (const [name, value] of Object.entries({
    client_id: request.agent.id,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: ['openid', ...request.scopes].join(' '),
    resource: request.resource,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    login_hint: request.user.id,
    state,
  }))
    start.searchParams.set(name, value);

  const callback = await followToRedirectUri(idp, start);
  if (callback.searchParams.get('state') !== state)
    throw new SignInError('the callback state does not match');
  const code = callback.searchParams.get('code');
  if (code === null) {
    throw new SignInError(
      `the provider refused: ${callback.searchParams.get('error')}: ${callback.searchParams.get('error_description')}`,
    );
  }
  return tokenRequest(idp, tokenEndpoint, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    client_id: request.agent.id,
    client_secret: request.agent.secret,
    resource: request.resource,
  });
}

/**
 * The token a sidecar of `server` presents to the collector: on a cluster the kubelet mounts a projected
 * service-account token; here the provider issues one with the same claims (client credentials).
 */
export async function collectorToken(
  idp: IdentityEndpoint,
  server: { readonly namespace: string; readonly name: string },
): Promise<string> {
  const { token_endpoint: tokenEndpoint } = await discover(idp);
  const clientId = serviceAccountClientId(server);
  return tokenRequest(idp, tokenEndpoint, {
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: serviceAccountClientSecret(clientId),
    resource: COLLECTOR_RESOURCE,
  });
}

async function discover(
  idp: IdentityEndpoint,
): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const response = await fetch(`${idp.url}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!response.ok) throw new SignInError(`discovery answered ${response.status}`);
  const document = (await response.json()) as Record<string, unknown>;
  if (document['issuer'] !== idp.issuer) {
    throw new SignInError(`discovery names issuer ${String(document['issuer'])}, expected ${idp.issuer}`);
  }
  const { authorization_endpoint, token_endpoint } = document;
  if (typeof authorization_endpoint !== 'string' || typeof token_endpoint !== 'string')
    throw new SignInError('discovery names no authorization or token endpoint');
  return { authorization_endpoint, token_endpoint };
}

/** Follows the provider's redirects (at most MAX_REDIRECTS) until one points at the agent's redirect URI. */
async function followToRedirectUri(idp: IdentityEndpoint, start: URL): Promise<URL> {
  const cookies = new Map<string, string>();
  let next = start;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await fetch(reachable(idp, next), {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals > 0) cookies.set(pair.slice(0, equals).trim(), pair.slice(equals + 1).trim());
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) {
      throw new SignInError(
        `the provider answered ${response.status} at ${next.pathname}: ${errorOfPage(await response.text())}`,
      );
    }
    await response.body?.cancel();
    next = new URL(location, next);
    if (next.href.startsWith(`${REDIRECT_URI}?`)) return next;
  }
  throw new SignInError(`no code after ${MAX_REDIRECTS} redirects`);
}

async function tokenRequest(
  idp: IdentityEndpoint,
  tokenEndpoint: string,
  form: Record<string, string>,
): Promise<string> {
  const response = await fetch(reachable(idp, new URL(tokenEndpoint)), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (typeof body['access_token'] !== 'string') {
    throw new SignInError(
      `the token endpoint answered ${response.status}: ${String(body['error'])}: ${String(body['error_description'])}`,
    );
  }
  return body['access_token'];
}

/**
 * The provider's URLs name its issuer; the requests go to where it really listens, which serves at its
 * root what the issuer's URLs put under the issuer's path (if it has one).
 */
function reachable(idp: IdentityEndpoint, url: URL): URL {
  const issuer = new URL(idp.issuer);
  if (url.origin !== issuer.origin) return url;
  const prefix = issuer.pathname.replace(/\/$/, '');
  const path =
    prefix !== '' && url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : url.pathname;
  return new URL(`${path}${url.search}`, idp.url);
}

/** oidc-provider's error page as one line: "error: ... error_description: ...". */
function errorOfPage(html: string): string {
  const text = html
    .replace(/<style[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ');
  const at = text.indexOf('error:');
  return (at >= 0 ? text.slice(at) : text).slice(0, 300).trim();
}
