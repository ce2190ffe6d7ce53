import { execFile } from 'node:child_process';
import { generateKeyPair } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const generate = promisify(generateKeyPair);

/**
 * Throwaway CAs and serving certificates for TLS tests (openssl issues them; Node's crypto cannot),
 * e.g. the collector's certificate and the wrong CA a sidecar must refuse.
 *
 *   const ca = await createCa(dir, 'audit-ca');
 *   const leaf = await issueServingCert(ca, dir, 'collector-1', ['IP:127.0.0.1']);
 */
export interface TestCa {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

export interface ServingCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export class PkiError extends Error {
  constructor(step: string, cause: unknown) {
    const detail = (cause as { stderr?: string }).stderr?.trim() || (cause as Error).message;
    super(`could not ${step} with openssl (is the openssl CLI installed?): ${detail}`, { cause });
    this.name = 'PkiError';
  }
}

/** Days of validity: short for per-test material, long for a control plane `make k8s-up` keeps running. */
export async function createCa(dir: string, name: string, days = 30): Promise<TestCa> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  await writeFile(keyFile, await ecKey(), { mode: 0o600 });
  await openssl(`create CA ${name}`, [
    ...[
      'req',
      '-x509',
      '-new',
      '-key',
      keyFile,
      '-out',
      certFile,
      '-subj',
      `/CN=${name}`,
      '-days',
      String(days),
    ],
    ...['-addext', 'basicConstraints=critical,CA:TRUE'],
    ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  return { name, certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
}

/** A fresh key and a serverAuth certificate for `sans` (e.g. IP:127.0.0.1, DNS:localhost) signed by `ca`. */
export async function issueServingCert(
  ca: TestCa,
  dir: string,
  name: string,
  sans: readonly string[] = ['IP:127.0.0.1', 'DNS:localhost'],
  days = 7,
): Promise<ServingCert> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const keyPem = await ecKey();
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  await openssl(`issue ${name}`, [
    ...['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-CA', ca.certFile, '-CAkey', ca.keyFile],
    ...['-subj', `/CN=${name}`, '-days', String(days)],
    ...['-addext', 'basicConstraints=critical,CA:FALSE'],
    ...['-addext', 'keyUsage=critical,digitalSignature'],
    ...['-addext', 'extendedKeyUsage=serverAuth'],
    ...['-addext', `subjectAltName=${sans.join(',')}`],
  ]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem };
}

/** A fresh key and a clientAuth certificate for `/O=organization/CN=commonName`, signed by `ca`. */
export async function issueClientCert(
  ca: TestCa,
  dir: string,
  name: string,
  subject: { commonName: string; organization?: string },
  days = 7,
): Promise<ServingCert> {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const keyPem = await ecKey();
  await writeFile(keyFile, keyPem, { mode: 0o600 });
  const organization = subject.organization === undefined ? '' : `/O=${subject.organization}`;
  await openssl(`issue ${name}`, [
    ...['req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-CA', ca.certFile, '-CAkey', ca.keyFile],
    ...['-subj', `${organization}/CN=${subject.commonName}`, '-days', String(days)],
    ...['-addext', 'basicConstraints=critical,CA:FALSE'],
    ...['-addext', 'keyUsage=critical,digitalSignature'],
    ...['-addext', 'extendedKeyUsage=clientAuth'],
  ]);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem };
}

async function ecKey(): Promise<string> {
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
