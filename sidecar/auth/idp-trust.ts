import { getCACertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { parseCaBundle } from '../ca-bundle.ts';
import { watchFile, type WatchedFile } from '../upstream-identity/watched-file.ts';

/**
 * What the sidecar trusts when it connects to its identity provider (issuer discovery, the JWKS, token
 * exchange): the default roots (the system's, plus NODE_EXTRA_CA_CERTS) and, with --idp-ca-file, the
 * certificates of that file in addition. In addition, not instead: discovery, JWKS and token endpoint may
 * be on different hosts (a JWKS on a public CDN, a token endpoint behind a private CA), and a provider
 * moving to a public certificate must not break every server. The file is re-read when it changes (a
 * rotated ConfigMap or Secret); a bad file keeps the last good trust. Only these connections use it: the
 * collector and the API server keep their own.
 */
export interface IdpTrust {
  /** The dispatcher for connections to the identity provider; undefined: undici's default (system roots). */
  dispatcher(): Dispatcher | undefined;
  /** Resolves after the first read of the file, good or bad. */
  readonly ready: Promise<void>;
  /** Reads the file now (tests). */
  reload(): Promise<void>;
  close(): void;
}

export interface IdpTrustOptions {
  readonly caFile: string;
  /** How often the file is re-read. Default 5 s (the kubelet refreshes mounted ConfigMaps in about a minute). */
  readonly pollMs?: number;
  /** Connections per origin (the token endpoint takes the most). Default 16. */
  readonly connections?: number;
  readonly onLoaded?: (certificates: readonly { subject: string; validTo: string }[]) => void;
  readonly onError?: (message: string) => void;
}

export function createIdpTrust(options: IdpTrustOptions): IdpTrust {
  let current: Agent | undefined;
  const file: WatchedFile = watchFile({
    path: options.caFile,
    pollMs: options.pollMs ?? 5_000,
    // A distributed trust bundle may carry the public roots too (trust-manager's useDefaultCAs): ~220 KiB.
    maxBytes: 1024 * 1024,
    onText: (text) => {
      const certificates = parseCaBundle(text);
      const previous = current;
      current = new Agent({
        connections: options.connections ?? 16,
        connect: { ca: [...getCACertificates('default'), ...certificates.map((c) => c.toString())] },
      });
      // Requests already on the old agent finish there; close waits for them.
      void previous?.close();
      options.onLoaded?.(certificates.map((c) => ({ subject: c.subject, validTo: c.validTo })));
    },
    onError: (message) => options.onError?.(message),
  });
  return {
    dispatcher: () => current,
    ready: file.ready,
    reload: () => file.reload(),
    close() {
      file.stop();
      void current?.close();
      current = undefined;
    },
  };
}
