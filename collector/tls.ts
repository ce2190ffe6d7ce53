import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';

/**
 * The collector's serving certificate (--tls-cert-file, --tls-key-file): read and checked once at start,
 * then re-read every second, so a rotated Secret (cert-manager, a Helm upgrade, kubelet's atomic swap
 * of the mounted files) reaches new connections without a restart. Connections already open keep the
 * context they were made with. A pair that does not load (the key written before the certificate, a
 * typo) is never installed: the last good one keeps serving and the problem is reported once.
 */
export class TlsConfigError extends Error {
  readonly code = 'invalid_tls';
}

export interface ServingCertificate {
  /** PEM: the leaf first, then any intermediates. */
  readonly cert: string;
  readonly key: string;
  /** sha256 over both files: what the reload compares. */
  readonly digest: string;
  /** The leaf's SHA-256 fingerprint and expiry, for the logs. */
  readonly fingerprint: string;
  readonly notAfter: string;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export async function loadServingCertificate(files: TlsFiles): Promise<ServingCertificate> {
  const [cert, key] = await Promise.all([
    readPem(files.certFile, '--tls-cert-file'),
    readPem(files.keyFile, '--tls-key-file'),
  ]);
  return checkPair(cert, key, files);
}

function checkPair(cert: string, key: string, files: TlsFiles): ServingCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new TlsConfigError(
      `--tls-cert-file ${files.certFile} is not a PEM certificate: ${(error as Error).message}`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsConfigError(
      `--tls-key-file ${files.keyFile} is not a PEM private key: ${(error as Error).message}`,
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(
      `--tls-key-file ${files.keyFile} does not match --tls-cert-file ${files.certFile} ` +
        `(the key is not the one the certificate (${leaf.subject.replaceAll('\n', ', ')}) was issued for)`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsConfigError(`--tls-cert-file/--tls-key-file cannot serve TLS: ${(error as Error).message}`);
  }
  return {
    cert,
    key,
    digest: digestOf(cert, key),
    fingerprint: leaf.fingerprint256,
    notAfter: new Date(leaf.validTo).toISOString(),
  };
}

async function readPem(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new TlsConfigError(`cannot read ${flag} ${path}: ${(error as Error).message}`);
  }
}

const digestOf = (cert: string, key: string) =>
  createHash('sha256').update(cert).update('\0').update(key).digest('hex');

export interface CertificateWatch {
  stop(): void;
}

export interface WatchOptions extends TlsFiles {
  readonly current: ServingCertificate;
  readonly intervalMs: number;
  /** A new, valid pair: install it for new connections. */
  readonly onChange: (next: ServingCertificate) => void;
  /** Files changed to something that does not load; called once per distinct content. */
  readonly onInvalid: (error: Error) => void;
}

/** Polls by content digest: inotify misses kubelet's symlink swap of a mounted Secret on some kernels. */
export function watchServingCertificate(options: WatchOptions): CertificateWatch {
  let installed = options.current.digest;
  let reported: string | undefined;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const [cert, key] = await Promise.all([
        readFile(options.certFile, 'utf8'),
        readFile(options.keyFile, 'utf8'),
      ]);
      const digest = digestOf(cert, key);
      if (digest === installed || digest === reported) return;
      try {
        const next = checkPair(cert, key, options);
        installed = digest;
        reported = undefined;
        options.onChange(next);
      } catch (error) {
        reported = digest;
        options.onInvalid(error as Error);
      }
    } catch (error) {
      // A file missing for a moment (mid-swap) or unreadable: keep serving, say so once per cause.
      const cause = `read:${(error as Error).message}`;
      if (reported !== cause) {
        reported = cause;
        options.onInvalid(error as Error);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
