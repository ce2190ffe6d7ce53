import { X509Certificate } from 'node:crypto';

/**
 * A PEM CA bundle as the sidecar reads it from a mounted file (the identity provider's CA, the
 * collector's CA). Parsed before it is used, so a file that is not a bundle is refused as a whole and the
 * trust in force stays, instead of an Agent built from half a file failing every handshake later.
 */
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle; throws when there is none or one does not parse. */
export function parseCaBundle(text: string): X509Certificate[] {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in the file');
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`certificate ${index + 1} does not parse: ${(error as Error).message}`, {
        cause: error,
      });
    }
  });
}
