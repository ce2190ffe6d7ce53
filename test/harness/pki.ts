import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const generate = promisify(generateKeyPair);

/** Key material of one throwaway control plane, as PEM files. */
export interface ControlPlanePki {
  /** Signs the serving certificate; clients verify the apiserver against it. */
  readonly caCertFile: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** Signs service-account tokens (kube-apiserver and kube-controller-manager). */
  readonly serviceAccountKeyFile: string;
  /** Verifies service-account tokens. */
  readonly serviceAccountPublicKeyFile: string;
}

export class PkiError extends Error {
  constructor(step: string, cause: unknown) {
    const detail = (cause as { stderr?: string }).stderr?.trim() || (cause as Error).message;
    super(`could not ${step} with openssl (is the openssl CLI installed?): ${detail}`, { cause });
    this.name = 'PkiError';
  }
}

/**
 * Writes a fresh CA, a serving certificate for 127.0.0.1 signed by it, and a service-account key
 * pair into `dir`. Node's crypto makes keys but cannot issue X.509 certificates, so openssl does that.
 */
export async function createPki(dir: string): Promise<ControlPlanePki> {
  const pki: ControlPlanePki = {
    caCertFile: join(dir, 'ca.crt'),
    servingCertFile: join(dir, 'apiserver.crt'),
    servingKeyFile: join(dir, 'apiserver.key'),
    serviceAccountKeyFile: join(dir, 'service-account.key'),
    serviceAccountPublicKeyFile: join(dir, 'service-account.pub'),
  };
  const caKeyFile = join(dir, 'ca.key');
  const [caKey, servingKey, serviceAccountKeys] = await Promise.all([
    ecPrivateKey(),
    ecPrivateKey(),
    generate('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }),
  ]);
  await Promise.all([
    writeFile(caKeyFile, caKey, { mode: 0o600 }),
    writeFile(pki.servingKeyFile, servingKey, { mode: 0o600 }),
    writeFile(pki.serviceAccountKeyFile, serviceAccountKeys.privateKey, { mode: 0o600 }),
    writeFile(pki.serviceAccountPublicKeyFile, serviceAccountKeys.publicKey),
  ]);

  await openssl('create the test CA', [
    ...['req', '-x509', '-new', '-key', caKeyFile, '-out', pki.caCertFile],
    ...['-subj', '/CN=portcullis-test-ca', '-days', '3650'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  await openssl('issue the apiserver serving certificate', [
    ...['req', '-x509', '-new', '-key', pki.servingKeyFile, '-out', pki.servingCertFile],
    ...['-CA', pki.caCertFile, '-CAkey', caKeyFile],
    ...['-subj', '/CN=kube-apiserver', '-days', '365'],
    ...['-addext', 'basicConstraints=critical,CA:FALSE'],
    ...['-addext', 'keyUsage=critical,digitalSignature'],
    ...['-addext', 'extendedKeyUsage=serverAuth'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
  ]);
  return pki;
}

async function ecPrivateKey(): Promise<string> {
  const { privateKey } = await generate('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return privateKey;
}

async function openssl(step: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    throw new PkiError(step, error);
  }
}
