import { Agent, type Dispatcher } from 'undici';
import { parseCaBundle } from '../ca-bundle.ts';
import { watchFile } from '../upstream-identity/watched-file.ts';

/**
 * What the audit shipper trusts when it connects to the collector: the certificates of
 * --collector-ca-file and nothing else (not the system roots: the collector's certificate comes from a
 * private CA, and a public one must not be able to stand in for it).
 *
 * The file is re-read when it changes, so a CA rotation reaches the shipper without a pod roll: the
 * operator updates the ConfigMap, the kubelet swaps the projected volume's `..data` symlink, the directory
 * watch sees it at once (a poll backs it up). A new bundle gets a new Agent, used by the next request; the
 * old Agent is closed gracefully, so a batch in flight finishes on the connection it started on and its
 * acknowledgement is processed as usual: nothing is sent twice or dropped by the swap itself. A batch that
 * fails because the trust no longer matches the collector stays in the WAL and is retried.
 *
 * A file that does not load (unreadable, no PEM certificate, one that does not parse) is refused as a
 * whole: the previous Agent stays. At start there is no previous one, so the first read must succeed.
 */
export class CollectorTrustError extends Error {
  readonly code = 'collector_ca_unusable';
}

export interface CollectorTrust {
  /** The Agent for requests to the collector now; a request takes it when it starts. */
  dispatcher(): Dispatcher;
  /** Reads the file now (tests). */
  reload(): Promise<void>;
  /** Stops watching and closes the Agent once its requests have finished. */
  close(): Promise<void>;
}

export interface CollectorTrustOptions {
  readonly caFile: string;
  /** The safety-net poll. Default 5 s; the directory watch usually sees a change within milliseconds. */
  readonly pollMs?: number;
  readonly onLoaded: (certificates: readonly { subject: string; validTo: string }[]) => void;
  /** A read of new content refused: the previous CA stays in force. */
  readonly onInvalid: (message: string) => void;
  /** The directory watch could not be set up; the poll still reads. */
  readonly onWatchError: (message: string) => void;
}

// A distributed trust bundle may carry many roots (trust-manager's useDefaultCAs is ~220 KiB).
const MAX_BUNDLE_BYTES = 1024 * 1024;

/** Resolves once the file has loaded; rejects with CollectorTrustError when the first read fails. */
export async function createCollectorTrust(options: CollectorTrustOptions): Promise<CollectorTrust> {
  let current: Agent | undefined;
  let firstError: string | undefined;
  const file = watchFile({
    path: options.caFile,
    pollMs: options.pollMs ?? 5_000,
    maxBytes: MAX_BUNDLE_BYTES,
    watchDirectory: true,
    onText: (text) => {
      const certificates = parseCaBundle(text);
      const previous = current;
      current = new Agent({ connect: { ca: certificates.map((c) => c.toString()) } });
      // close() lets requests already on the old Agent finish; new ones go to the new Agent.
      void previous?.close();
      options.onLoaded(certificates.map((c) => ({ subject: c.subject, validTo: c.validTo })));
    },
    onError: (message) => {
      if (current === undefined) firstError = message;
      else options.onInvalid(message);
    },
    onWatchError: options.onWatchError,
  });
  await file.ready;
  if (current === undefined) {
    file.stop();
    throw new CollectorTrustError(
      `--collector-ca-file: ${firstError ?? `${options.caFile} did not load`}; ` +
        'without it the sidecar cannot verify the collector',
    );
  }
  return {
    dispatcher: () => current!,
    reload: () => file.reload(),
    async close() {
      file.stop();
      await current?.close();
    },
  };
}
