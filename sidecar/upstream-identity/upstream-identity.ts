import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { McpServerSpec } from '../../api/v1alpha1/mcpserver.ts';
import { canonicalJson } from '../../policy/hash.ts';
import type { Exchange } from '../exchange.ts';
import { reject, type Rejection } from '../reject.ts';
import { KeyRing } from './key-ring.ts';
import { mintToken, type MintedToken } from './minter.ts';
import { requestScopes, SESSION_SCOPE } from './scopes.ts';
import { parseSigningKey } from './signing-key.ts';
import { createTokenExchanger, type TokenExchanger } from './token-exchange.ts';
import { watchFile, type WatchedFile } from './watched-file.ts';

export type UpstreamAuthMode = McpServerSpec['upstreamAuth']['mode'];

/** What the server container is told about the caller, for one upstream request. */
export interface UpstreamCredential {
  /** `Bearer <token>` in Minted and TokenExchange modes; never the client's token. */
  readonly authorization?: string;
  /** For audit: the mode and the jti of the token the server got, never the token. */
  readonly identity: { readonly mode: UpstreamAuthMode; readonly tokenId?: string };
}

/**
 * The sidecar's upstream identity: per request, the credential the server container receives in place
 * of the client's token (which never leaves the sidecar, except as the subject_token of a token exchange).
 *
 * - None: no credential; identity context headers are added by upstream-headers.ts.
 * - Minted: a JWT signed here, scoped to the tool(s) of this request; `mcp:session` for requests without
 *   a tool call (initialize, tools/list, notifications, streams), which grants no tool.
 * - TokenExchange: an RFC 8693 token from the identity provider, scoped likewise (configured scopes only
 *   for requests without a tool call), cached per caller and scope set.
 *
 * Every failure is a refusal (upstream_identity_unavailable): no call goes upstream without the
 * credential its mode requires.
 */
export interface UpstreamIdentity {
  /** purpose 'session': a credential without tool scopes (e.g. for notifications/cancelled). */
  credentialFor(
    exchange: Exchange,
    purpose?: 'request' | 'session',
  ): UpstreamCredential | Rejection | Promise<UpstreamCredential | Rejection>;
  /** The JWKS of the minting keys (JSON text); undefined when no signing key is configured. */
  jwks(): string | undefined;
  /** Re-reads the key and secret files now. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

export interface UpstreamIdentityOptions {
  /** PEM PKCS#8 private key for Minted mode (a mounted Secret in Kubernetes). */
  readonly signingKeyFile?: string;
  /** Client secret for TokenExchange mode (a mounted Secret in Kubernetes). */
  readonly clientSecretFile?: string;
  /** Dev/test only: use this token endpoint instead of the policy's. */
  readonly tokenEndpoint?: string;
  /** stdio servers get no HTTP headers, so there is nothing to carry a token. */
  readonly carrier: 'http' | 'stdio';
  readonly log: Logger;
  readonly clock: () => number;
  /** How often the key and secret files are re-read. Default 1 s. */
  readonly pollMs?: number;
  /** How long a replaced signing key stays in the JWKS. Default: one token lifetime plus skew. */
  readonly retainMs?: number;
  /** Per token exchange request. Default 5 s. */
  readonly exchangeTimeoutMs?: number;
  /** Connections to the token endpoint with the identity provider's CA (see auth/idp-trust.ts). */
  readonly dispatcher?: () => Dispatcher | undefined;
}

const NONE: UpstreamCredential = Object.freeze({ identity: Object.freeze({ mode: 'None' as const }) });

const unavailable = (reason: string, retryable = true): Rejection =>
  reject('upstream_identity_unavailable', reason, retryable ? { retryAfter: 1 } : {});

export async function createUpstreamIdentity(options: UpstreamIdentityOptions): Promise<UpstreamIdentity> {
  const { log, clock } = options;
  const pollMs = options.pollMs ?? 1_000;
  const ring = new KeyRing(options.retainMs === undefined ? {} : { retainMs: options.retainMs });
  const files: WatchedFile[] = [];

  if (options.signingKeyFile !== undefined) {
    files.push(
      watchFile({
        path: options.signingKeyFile,
        pollMs,
        onText: async (text) => {
          const key = await parseSigningKey(text);
          const previous = ring.current?.kid;
          ring.install(key, clock());
          if (previous !== key.kid)
            log.info({ kid: key.kid, alg: key.alg, previous }, 'upstream token signing key installed');
        },
        onError: (message) =>
          log.error({ error: message }, 'upstream token signing key not loaded; the last good key stays'),
      }),
    );
  }

  let clientSecret: string | undefined;
  if (options.clientSecretFile !== undefined) {
    files.push(
      watchFile({
        path: options.clientSecretFile,
        pollMs,
        onText: (text) => {
          // Secrets created from files often end with a newline that is not part of the secret.
          const secret = text.trim();
          if (secret === '') throw new Error('the client secret file is empty');
          clientSecret = secret;
          log.info('token exchange client secret loaded');
        },
        onError: (message) => log.error({ error: message }, 'token exchange client secret not loaded'),
      }),
    );
  }
  await Promise.all(files.map((f) => f.ready));

  // One exchanger (cache, connection pool) per distinct settings, like the authenticator.
  let exchanger: { key: string; value: TokenExchanger } | undefined;
  const exchangerFor = (settings: NonNullable<McpServerSpec['upstreamAuth']['tokenExchange']>) => {
    const effective = options.tokenEndpoint
      ? { ...settings, tokenEndpoint: options.tokenEndpoint }
      : settings;
    const key = canonicalJson(effective);
    if (exchanger?.key !== key) {
      void exchanger?.value.close();
      exchanger = {
        key,
        value: createTokenExchanger({
          settings: effective,
          clientSecret: () => clientSecret,
          clock,
          ...(options.exchangeTimeoutMs === undefined ? {} : { timeoutMs: options.exchangeTimeoutMs }),
          ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        }),
      };
    }
    return exchanger.value;
  };

  let warnedStdio = false;

  return {
    // Synchronous except for a token exchange and an RSA signature (minter.ts): no promise per request in
    // mode None, nor in Minted with an elliptic-curve or Ed25519 key.
    credentialFor(exchange, purpose = 'request') {
      const policy = exchange.policy;
      const upstreamAuth = policy?.bundle.spec.upstreamAuth;
      const mode = upstreamAuth?.mode ?? 'None';
      if (mode === 'None') return NONE;
      if (options.carrier === 'stdio') {
        if (!warnedStdio) {
          warnedStdio = true;
          log.warn({ mode }, 'upstreamAuth needs HTTP headers; a stdio server gets no upstream token');
        }
        return { identity: { mode } };
      }
      const principal = exchange.principal;
      if (policy === undefined || principal === undefined)
        return reject('internal_error', 'no principal to build an upstream identity for');
      const scopes = purpose === 'session' ? [] : requestScopes(policy, exchange.calls);
      if (!Array.isArray(scopes)) return unavailable(scopes.refused, false);

      if (mode === 'Minted') {
        const settings = upstreamAuth!.minted!;
        const key = ring.current;
        if (key === undefined)
          return unavailable(
            options.signingKeyFile === undefined
              ? 'upstreamAuth Minted needs a signing key (--signing-key)'
              : 'the upstream token signing key is not loaded',
          );
        const minted = mintToken(
          key,
          {
            issuer: settings.issuer ?? policy.bundle.spec.auth.publicUrl,
            audience: settings.audience,
            ttlSeconds: settings.ttlSeconds,
            principal,
            scopes: scopes.length === 0 ? [SESSION_SCOPE] : scopes,
          },
          clock(),
        );
        const credential = (token: MintedToken): UpstreamCredential => ({
          authorization: `Bearer ${token.token}`,
          identity: { mode, tokenId: token.tokenId },
        });
        // An RSA key signs off the event loop (minter.ts): a promise, and a failure is a refusal.
        return minted instanceof Promise
          ? minted.then(credential, (error: unknown) =>
              unavailable(`the upstream token could not be signed: ${(error as Error).message}`),
            )
          : credential(minted);
      }

      const settings = upstreamAuth!.tokenExchange!;
      if (exchange.subjectToken === undefined)
        return unavailable('the inbound token was not kept for token exchange', false);
      return exchangerFor(settings)
        .exchange({ subject: exchange.subjectToken, principal, scopes })
        .then((result) =>
          result.ok
            ? { authorization: `Bearer ${result.token}`, identity: { mode, tokenId: result.tokenId } }
            : unavailable(result.reason, result.retryable),
        );
    },

    jwks: () => (options.signingKeyFile === undefined ? undefined : ring.jwks(clock())),

    async reload() {
      await Promise.all(files.map((f) => f.reload()));
    },

    async close() {
      for (const file of files) file.stop();
      await exchanger?.value.close();
    },
  };
}
