/**
 * Signature algorithms a resource server may accept. Only asymmetric ones: with a symmetric algorithm
 * (HS*) anyone able to verify could also mint tokens, and the classic key-confusion attack signs with a
 * public key used as an HMAC secret. "none" is not an algorithm.
 */
const ASYMMETRIC = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]);

/**
 * The algorithms jwtVerify is pinned to. The API schema already restricts the list; this guards against
 * settings that bypassed it (a cast, a hand-built object), and fails at construction, not per request.
 */
export function pinnedAlgorithms(configured: readonly string[]): string[] {
  const refused = configured.filter((alg) => !ASYMMETRIC.has(alg));
  if (refused.length > 0) {
    throw new TypeError(
      `auth.algorithms: refusing non-asymmetric or unknown algorithms: ${refused.join(', ')}`,
    );
  }
  if (configured.length === 0) throw new TypeError('auth.algorithms: at least one algorithm is required');
  return [...new Set(configured)];
}
