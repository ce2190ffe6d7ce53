import { randomUUID, sign } from 'node:crypto';
import type { Principal } from '../../policy/principal.ts';
import { derToP1363 } from './ecdsa-signature.ts';
import { MAX_MINTED_TTL_SECONDS } from './key-ring.ts';
import type { SigningKey } from './signing-key.ts';

export interface MintRequest {
  readonly issuer: string;
  readonly audience: string;
  /** Clamped to 1..60. */
  readonly ttlSeconds: number;
  readonly principal: Principal;
  /** The scope claim: the tool(s) of this request and their declared downstream scopes. */
  readonly scopes: readonly string[];
}

export interface MintedToken {
  readonly token: string;
  /** The jti: what audit records, never the token. */
  readonly tokenId: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/**
 * Signs one short-lived RFC 9068 access token for the server container:
 *
 *   header  { alg, kid: JWK thumbprint, typ: at+jwt }
 *   payload { iss, sub: user, act: { sub: agent }, aud, scope, client_id: agent, tenant?, iat, exp, jti }
 *
 * The actor claim follows RFC 8693 section 4.1 (a delegation chain the inbound token already had stays
 * nested under it). client_id is required by RFC 9068; it names the agent, the OAuth client on whose
 * behalf the call is made.
 *
 * Signed with node:crypto rather than jose's SignJWT: the same JWS, at ~30 µs instead of 100 µs for
 * ES256 (jose goes through WebCrypto). ECDSA is signed with the bare KeyObject and its DER output turned
 * into the JWS form here (ecdsa-signature.ts): node:crypto's own `dsaEncoding` option doubles the cost.
 * jose still exports the JWK, computes the kid and, in the tests, verifies every token this produces.
 */
export function mintToken(
  key: SigningKey,
  request: MintRequest,
  now: number,
): MintedToken | Promise<MintedToken> {
  const ttl = Math.min(Math.max(Math.floor(request.ttlSeconds), 1), MAX_MINTED_TTL_SECONDS);
  const iat = Math.floor(now / 1000);
  const exp = iat + ttl;
  const jti = randomUUID();
  const { principal } = request;
  const payload = {
    iss: request.issuer,
    sub: principal.user,
    act: actorClaim(principal),
    aud: request.audience,
    scope: request.scopes.join(' '),
    client_id: principal.agent,
    ...(principal.tenant === undefined ? {} : { tenant: principal.tenant }),
    iat,
    exp,
    jti,
  };
  const input = `${headerOf(key)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const minted = (signature: Buffer): MintedToken => ({
    token: `${input}.${signature.toString('base64url')}`,
    tokenId: jti,
    expiresAt: exp * 1000,
  });
  const signature = signWith(key, Buffer.from(input));
  return signature instanceof Promise ? signature.then(minted) : minted(signature);
}

/** act.sub is the agent; an actor chain of the inbound token (act.act) is kept as the prior actors. */
function actorClaim(principal: Principal): Record<string, unknown> {
  const inbound = principal.claims['act'];
  const prior =
    typeof inbound === 'object' && inbound !== null && !Array.isArray(inbound)
      ? (inbound as Record<string, unknown>)['act']
      : undefined;
  return typeof prior === 'object' && prior !== null && !Array.isArray(prior)
    ? { sub: principal.agent, act: prior }
    : { sub: principal.agent };
}

const headers = new WeakMap<SigningKey, string>();

function headerOf(key: SigningKey): string {
  let header = headers.get(key);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })).toString('base64url');
    headers.set(key, header);
  }
  return header;
}

/**
 * RSA signs on libuv's thread pool (node:crypto's sign with a callback): a 2048-bit RSA signature is ~0.9 ms
 * of CPU, on the event loop a stall of every other call in the sidecar once per minted call; through the pool
 * it costs the loop ~80 µs and runs beside it (docs/performance.md, "Minted tokens: RSA off the event loop").
 * Elliptic-curve and Ed25519 signatures (~35-70 µs) stay on the loop: the hop to the pool and back would
 * cost the loop more than the signature.
 */
function signWith(key: SigningKey, input: Buffer): Buffer | Promise<Buffer> {
  switch (key.alg) {
    case 'ES256':
      return derToP1363(sign('sha256', input, key.privateKey), 32);
    case 'ES384':
      return derToP1363(sign('sha384', input, key.privateKey), 48);
    case 'RS256':
      return signInPool('sha256', input, key);
    case 'EdDSA':
      return sign(null, input, key.privateKey);
  }
}

function signInPool(digest: string, input: Buffer, key: SigningKey): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(digest, input, key.privateKey, (error, signature) =>
      error === null ? resolve(signature) : reject(error),
    ),
  );
}
