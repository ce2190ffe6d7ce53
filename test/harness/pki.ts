import { generateKeyPair } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCa, issueServingCert } from './serving-certs.ts';

export { PkiError } from './serving-certs.ts';

const generate = promisify(generateKeyPair);

/** Key material of one throwaway control plane, as PEM files. */
export interface ControlPlanePki {
  /** Signs the serving certificate; clients verify the apiserver against it. */
  readonly caCertFile: string;
  /** Issues the node's certificates (kubelet serving, the API server's kubelet client). */
  readonly caKeyFile: string;
  readonly servingCertFile: string;
  readonly servingKeyFile: string;
  /** Signs service-account tokens (kube-apiserver and kube-controller-manager). */
  readonly serviceAccountKeyFile: string;
  /** Verifies service-account tokens. */
  readonly serviceAccountPublicKeyFile: string;
}

/**
 * Writes a fresh CA, a serving certificate for `sans` (127.0.0.1 by default) signed by it, and a service-account key
 * pair into `dir`. Node's crypto makes keys but cannot issue X.509 certificates, so openssl does that.
 */
export async function createPki(
  dir: string,
  sans: readonly string[] = ['IP:127.0.0.1', 'DNS:localhost'],
): Promise<ControlPlanePki> {
  const pki: ControlPlanePki = {
    caCertFile: join(dir, 'ca.crt'),
    caKeyFile: join(dir, 'ca.key'),
    servingCertFile: join(dir, 'apiserver.crt'),
    servingKeyFile: join(dir, 'apiserver.key'),
    serviceAccountKeyFile: join(dir, 'service-account.key'),
    serviceAccountPublicKeyFile: join(dir, 'service-account.pub'),
  };
  // The CA and serving certificate come from the same helpers as every other TLS test's.
  const [ca, serviceAccountKeys] = await Promise.all([
    createCa(dir, 'ca', 3650),
    generate('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    }),
  ]);
  await Promise.all([
    issueServingCert(ca, dir, 'apiserver', sans, 365),
    writeFile(pki.serviceAccountKeyFile, serviceAccountKeys.privateKey, { mode: 0o600 }),
    writeFile(pki.serviceAccountPublicKeyFile, serviceAccountKeys.publicKey),
  ]);
  return pki;
}
