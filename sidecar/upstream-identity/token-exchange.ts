import { Pool, type Dispatcher } from 'undici';
import type { Principal } from '../../policy/principal.ts';
import { TokenCache } from '../../lib/token-cache.ts';
import { openSubjectToken, type SubjectToken } from './subject-token.ts';
import { ACCESS_TOKEN_TYPE, readTokenResponse, type IssuedToken } from './token-response.ts';

/**
 * RFC 8693 token exchange at the identity provider: the inbound token (subject_token) for a token whose
 * audience is the server container and whose scope is the tool being called. Results are cached per
 * (user, agent, tenant, granted scopes, audience, requested scopes) until shortly before they expire, and
 * never past the inbound token's own expiry. Every failure is a value the caller turns into a refusal:
 * without an exchanged token there is no call (fail closed).
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export interface TokenExchangeSettings {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly audience: string;
  /** Requested for every exchanged token, besides the tool scopes. */
  readonly scopes?: readonly string[];
}

export interface TokenExchangerOptions {
  readonly settings: TokenExchangeSettings;
  /** The client secret as currently loaded (it rotates with its file); undefined: none loaded. */
  readonly clientSecret: () => string | undefined;
  readonly clock: () => number;
  /** Per exchange request. Default 5 s. */
  readonly timeoutMs?: number;
  /** Exchanged tokens remembered. Default 10,000; 0 disables the cache. */
  readonly cacheSize?: number;
  /** After the endpoint could not be reached, fail fast for this long. Default 1 s. */
  readonly downForMs?: number;
  /** Connections to the token endpoint. Default 16. */
  readonly connections?: number;
  /**
   * The identity provider's connections with its CA (auth/idp-trust.ts), asked per request so a rotated CA
   * applies; undefined (or returning undefined): a pool of our own with the system roots.
   */
  readonly dispatcher?: () => Dispatcher | undefined;
}

export interface ExchangeRequest {
  readonly subject: SubjectToken;
  readonly principal: Principal;
  /** The scopes of this request's tool(s); the configured scopes are added. */
  readonly scopes: readonly string[];
}

export type ExchangeResult =
  | { readonly ok: true; readonly token: string; readonly tokenId: string }
  | { readonly ok: false; readonly reason: string; readonly retryable: boolean };

export interface TokenExchanger {
  exchange(request: ExchangeRequest): Promise<ExchangeResult>;
  close(): Promise<void>;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Time before expiry at which a cached token is no longer handed out: a fifth of its life, at most 30 s. */
export function reuseUntil(issuedAt: number, expiresAt: number): number {
  return expiresAt - Math.min(30_000, (expiresAt - issuedAt) / 5);
}

type Issued = { readonly ok: true; readonly issued: IssuedToken };
type Failed = Extract<ExchangeResult, { ok: false }>;

export function createTokenExchanger(options: TokenExchangerOptions): TokenExchanger {
  const { settings, clock } = options;
  const endpoint = new URL(settings.tokenEndpoint);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const downForMs = options.downForMs ?? 1_000;
  const pool = new Pool(endpoint.origin, { connections: options.connections ?? 16 });
  const cache = new TokenCache<IssuedToken>(options.cacheSize ?? 10_000);
  // Concurrent calls that need the same token share one request to the identity provider.
  const pending = new Map<string, Promise<ExchangeResult>>();
  let down: { readonly until: number; readonly reason: string } | undefined;

  async function post(subjectToken: string, scopes: readonly string[]): Promise<Issued | Failed> {
    const secret = options.clientSecret();
    if (secret === undefined)
      return { ok: false, reason: 'no token exchange client secret is loaded', retryable: true };
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      audience: settings.audience,
    });
    // An absolute URI is also a resource indicator (RFC 8707); authorization servers differ in which
    // of the two they read.
    if (/^https?:\/\//.test(settings.audience)) form.set('resource', settings.audience);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    let status: number;
    let body: unknown;
    try {
      const via = options.dispatcher?.() ?? pool;
      const response = await via.request({
        origin: endpoint.origin,
        path: endpoint.pathname + endpoint.search,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: basicAuthorization(settings.clientId, secret),
        },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      body = await readJson(response.body);
    } catch (error) {
      const reason = isTimeout(error)
        ? `the identity provider did not answer the token exchange within ${timeoutMs / 1000} s`
        : `the identity provider is unreachable: ${(error as Error).message}`;
      down = { until: clock() + downForMs, reason };
      return { ok: false, reason, retryable: true };
    }
    down = undefined;
    if (body === TOO_LARGE) body = undefined;
    return readTokenResponse(status, body, clock());
  }

  async function exchangeAndCache(
    subjectToken: string,
    scopes: readonly string[],
    key: string,
    subjectExpiresAt: number,
  ): Promise<ExchangeResult> {
    const started = clock();
    const result = await post(subjectToken, scopes);
    if (!result.ok) return result;
    const { issued } = result;
    // Without a stated lifetime the token is used for this call only.
    if (issued.expiresAt !== undefined)
      cache.set(key, issued, Math.min(reuseUntil(started, issued.expiresAt), subjectExpiresAt));
    return { ok: true, token: issued.token, tokenId: issued.tokenId };
  }

  return {
    async exchange(request) {
      const subjectToken = openSubjectToken(request.subject);
      if (subjectToken === undefined)
        return { ok: false, reason: 'the inbound token is not available for exchange', retryable: false };
      const scopes = [...new Set([...request.scopes, ...(settings.scopes ?? [])])];
      const key = cacheKey(request.principal, settings.audience, scopes);
      const now = clock();
      const cached = cache.get(key, now);
      if (cached !== undefined) return { ok: true, token: cached.token, tokenId: cached.tokenId };
      if (down !== undefined && now < down.until) return { ok: false, reason: down.reason, retryable: true };
      let flight = pending.get(key);
      if (flight === undefined) {
        flight = exchangeAndCache(subjectToken, scopes, key, request.subject.expiresAt).finally(() =>
          pending.delete(key),
        );
        pending.set(key, flight);
      }
      return flight;
    },
    async close() {
      cache.clear();
      await pool.close();
    },
  };
}

function isTimeout(error: unknown): boolean {
  const { name, code } = error as { name?: string; code?: string };
  return name === 'TimeoutError' || (typeof code === 'string' && code.includes('TIMEOUT'));
}

/**
 * The cache key. Every input that changes what the identity provider would issue is part of it; the
 * granted scopes of the inbound token are, so a narrower new token does not reuse a broader one's result.
 */
export function cacheKey(principal: Principal, audience: string, scopes: readonly string[]): string {
  return JSON.stringify([
    principal.user,
    principal.agent,
    principal.tenant ?? null,
    [...principal.scopes].sort(),
    audience,
    [...scopes].sort(),
  ]);
}

/** RFC 6749 section 2.3.1: client id and secret are form-urlencoded, then joined and base64-encoded. */
export function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

const TOO_LARGE = Symbol('too large');

/** The body as JSON; undefined when it is not JSON, TOO_LARGE past the size cap (the rest is dropped). */
async function readJson(body: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    // Leaving for-await destroys the body, which closes the connection.
    if (size > MAX_RESPONSE_BYTES) return TOO_LARGE;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
