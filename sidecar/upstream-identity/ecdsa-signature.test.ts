import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derToP1363, EcdsaSignatureError } from './ecdsa-signature.ts';

const curves = [
  { curve: 'P-256', hash: 'sha256', size: 32 },
  { curve: 'P-384', hash: 'sha384', size: 48 },
] as const;

/** A DER signature of the given r and s (as minimal positive INTEGERs), built independently of the code. */
function der(r: Buffer, s: Buffer): Buffer {
  const integer = (value: Buffer): Buffer => {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    let body = value.subarray(start);
    if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const content = Buffer.concat([integer(r), integer(s)]);
  const length = content.length < 0x80 ? [content.length] : [0x81, content.length];
  return Buffer.concat([Buffer.from([0x30, ...length]), content]);
}

describe('derToP1363', () => {
  it.each(curves)(
    'turns OpenSSL signatures on $curve into JWS signatures node:crypto verifies',
    ({ curve, hash, size }) => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
          const signature = derToP1363(sign(hash, data, privateKey), size);
          expect(signature.length).toBe(2 * size);
          expect(verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
        }),
        { numRuns: 200 },
      );
    },
  );

  it('pads short integers and drops the sign byte of high-bit ones, at every size', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(32, 48, 66),
        fc.uint8Array({ minLength: 1, maxLength: 66 }),
        fc.uint8Array({ minLength: 1, maxLength: 66 }),
        (size, rawR, rawS) => {
          const r = Buffer.alloc(size);
          const s = Buffer.alloc(size);
          Buffer.from(rawR.subarray(0, size)).copy(r, size - Math.min(rawR.length, size));
          Buffer.from(rawS.subarray(0, size)).copy(s, size - Math.min(rawS.length, size));
          expect(derToP1363(der(r, s), size)).toEqual(Buffer.concat([r, s]));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses what is not a DER ECDSA signature of the curve', () => {
    const good = der(Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22));
    const bad: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0x31, ...good.subarray(1)]), // not a SEQUENCE
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
      der(Buffer.alloc(33, 0x7f), Buffer.alloc(32, 1)), // r longer than the curve
      Buffer.from([0x30, 0x06, 0x02, 0x00, 0x02, 0x02, 0x01, 0x01]), // empty INTEGER
      Buffer.from([0x30, 0x82, 0x00, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]), // unsupported length form
    ];
    for (const input of bad) expect(() => derToP1363(input, 32)).toThrow(EcdsaSignatureError);
  });
});
