import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { parseSigningKey, SigningKeyError } from './signing-key.ts';

const generate = generateKeyPairSync as (type: string, options: object) => { privateKey: KeyObject };
function pemOf(type: string, options: object, format: 'pkcs8' | 'pkcs1' | 'sec1' = 'pkcs8'): string {
  const { privateKey } = generate(type, options);
  return privateKey.export({ type: format, format: 'pem' }) as string;
}

describe('parseSigningKey', () => {
  it.each([
    ['EC P-256', 'ec', { namedCurve: 'P-256' }, 'ES256'],
    ['EC P-384', 'ec', { namedCurve: 'P-384' }, 'ES384'],
    ['RSA 2048', 'rsa', { modulusLength: 2048 }, 'RS256'],
    ['Ed25519', 'ed25519', {}, 'EdDSA'],
  ] as const)('reads a PKCS#8 %s key and signs with %s', async (_name, type, options, alg) => {
    const key = await parseSigningKey(pemOf(type, options));
    expect(key.alg).toBe(alg);
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig' });
    expect(key.publicJwk).not.toHaveProperty('d');
    expect(key.publicJwk).not.toHaveProperty('p');
  });

  it('names the key by its RFC 7638 thumbprint: the same key file gives the same kid everywhere', async () => {
    const pem = pemOf('ec', { namedCurve: 'P-256' });
    const [a, b] = await Promise.all([parseSigningKey(pem), parseSigningKey(`\n${pem}\n`)]);
    expect(a.kid).toBe(b.kid);
    const { kid: _kid, alg: _alg, use: _use, ...jwk } = a.publicJwk;
    expect(a.kid).toBe(await calculateJwkThumbprint(jwk, 'sha256'));
    expect(a.kid).toBe(await calculateJwkThumbprint(await exportJWK(a.privateKey), 'sha256'));
    expect((await parseSigningKey(pemOf('ec', { namedCurve: 'P-256' }))).kid).not.toBe(a.kid);
  });

  const refused: [string, () => string, RegExp][] = [
    ['an empty file', () => '', /no PEM PKCS#8/],
    [
      'a public key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
          type: 'spki',
          format: 'pem',
        }) as string,
      /no PEM PKCS#8/,
    ],
    ['a PKCS#1 RSA key', () => pemOf('rsa', { modulusLength: 2048 }, 'pkcs1'), /no PEM PKCS#8/],
    ['a SEC1 EC key', () => pemOf('ec', { namedCurve: 'P-256' }, 'sec1'), /no PEM PKCS#8/],
    [
      'an encrypted PKCS#8 key',
      () =>
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
          type: 'pkcs8',
          format: 'pem',
          cipher: 'aes-256-cbc',
          passphrase: 'secret',
        }) as string,
      /no PEM PKCS#8/,
    ],
    [
      'a corrupted block',
      () => '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      /not a valid private key/,
    ],
    ['an RSA key under 2048 bits', () => pemOf('rsa', { modulusLength: 1024 }), /at least 2048 bits/],
    ['a P-521 key', () => pemOf('ec', { namedCurve: 'P-521' }), /P-256 or P-384/],
    ['a secp256k1 key', () => pemOf('ec', { namedCurve: 'secp256k1' }), /P-256 or P-384/],
    ['an X25519 (key agreement) key', () => pemOf('x25519', {}), /unsupported signing key type x25519/],
  ];
  it.each(refused)('refuses %s, without quoting the file', async (_name, pem, reason) => {
    const text = pem();
    const error = await parseSigningKey(text).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect((error as Error).message).toMatch(reason);
    const body = text.split('\n')[1];
    if (body) expect((error as Error).message).not.toContain(body);
  });
});
