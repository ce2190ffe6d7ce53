import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

/** The JWS algorithm a key signs with, decided by the key itself: one algorithm per key type. */
export type MintAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'EdDSA';

/**
 * A private key the sidecar mints upstream tokens with, and the public half it publishes. The key id is
 * the RFC 7638 JWK thumbprint of the public key, so the same Secret yields the same kid in every replica
 * and after every restart, and a new key can never reuse an old kid.
 */
export interface SigningKey {
  readonly kid: string;
  readonly alg: MintAlgorithm;
  readonly privateKey: KeyObject;
  /** As published in the JWKS: the public parameters plus kid, alg and use. */
  readonly publicJwk: JWK;
}

export class SigningKeyError extends Error {
  readonly code = 'invalid_signing_key';
}

const PKCS8 = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/;
const MIN_RSA_BITS = 2048;

/**
 * Parses a PEM PKCS#8 private key (EC P-256 or P-384, RSA ≥ 2048 bits, Ed25519). Anything else — a
 * public key, an encrypted key, PKCS#1 or SEC1 PEM, a weak RSA key, another curve — is refused with a
 * reason that never quotes the file.
 */
export async function parseSigningKey(pem: string): Promise<SigningKey> {
  const block = PKCS8.exec(pem)?.[0];
  if (block === undefined)
    throw new SigningKeyError('the signing key file holds no PEM PKCS#8 "PRIVATE KEY" block');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: block, format: 'pem' });
  } catch {
    throw new SigningKeyError('the signing key file holds a PKCS#8 block that is not a valid private key');
  }
  const alg = algorithmOf(privateKey);
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return {
    kid,
    alg,
    privateKey,
    publicJwk: Object.freeze({ ...jwk, kid, alg, use: 'sig' }),
  };
}

function algorithmOf(key: KeyObject): MintAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ES256';
      if (details.namedCurve === 'secp384r1') return 'ES384';
      throw new SigningKeyError(`EC signing keys must use P-256 or P-384, not ${details.namedCurve}`);
    case 'rsa':
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS)
        throw new SigningKeyError(`RSA signing keys need at least ${MIN_RSA_BITS} bits`);
      return 'RS256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new SigningKeyError(
        `unsupported signing key type ${key.asymmetricKeyType}; use EC P-256, RSA or Ed25519`,
      );
  }
}
