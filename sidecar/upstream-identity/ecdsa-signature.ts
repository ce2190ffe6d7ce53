/**
 * An ECDSA signature as OpenSSL returns it (DER: SEQUENCE { INTEGER r, INTEGER s }) in the form JWS uses
 * (RFC 7518 section 3.4: r and s as unsigned big-endian integers of the curve's size, concatenated).
 *
 * Why by hand: node:crypto converts itself when sign() is given `{ key, dsaEncoding: 'ieee-p1363' }`, but
 * that options form costs twice the signature (measured on Node 24: 59-63 µs per ES256 signature against
 * 29 µs for sign() with the KeyObject and DER output; docs/performance.md), and a minted token is signed per
 * call. The conversion is a fixed, tiny DER shape; jose does the same internally but does not export it.
 */

/** Thrown when the input is not the DER signature OpenSSL produces: a defect, never client input. */
export class EcdsaSignatureError extends Error {
  override readonly name = 'EcdsaSignatureError';
}

/** The DER signature `der` as r || s, each `size` bytes (32 for P-256, 48 for P-384). */
export function derToP1363(der: Uint8Array, size: number): Buffer {
  let at = 0;
  const byte = (): number => {
    if (at >= der.length) throw new EcdsaSignatureError('truncated DER signature');
    return der[at++]!;
  };
  const length = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    // Long form: only 0x81 can occur (a P-521 signature is at most 139 bytes).
    if (first !== 0x81) throw new EcdsaSignatureError('unsupported DER length form');
    const value = byte();
    if (value < 0x80) throw new EcdsaSignatureError('non-minimal DER length');
    return value;
  };
  if (byte() !== 0x30) throw new EcdsaSignatureError('DER signature is not a SEQUENCE');
  if (length() !== der.length - at) throw new EcdsaSignatureError('DER SEQUENCE length does not match');
  const out = Buffer.alloc(2 * size);
  for (const offset of [0, size]) {
    if (byte() !== 0x02) throw new EcdsaSignatureError('DER signature part is not an INTEGER');
    const bytes = length();
    let start = at;
    const end = at + bytes;
    if (bytes === 0 || end > der.length) throw new EcdsaSignatureError('bad DER INTEGER length');
    // A leading zero only keeps a positive integer's high bit clear; r and s are positive.
    while (start < end - 1 && der[start] === 0) start++;
    if (end - start > size) throw new EcdsaSignatureError('DER INTEGER longer than the curve');
    out.set(der.subarray(start, end), offset + size - (end - start));
    at = end;
  }
  if (at !== der.length) throw new EcdsaSignatureError('trailing bytes after the DER signature');
  return out;
}
