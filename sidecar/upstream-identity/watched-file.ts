import { hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { watchPaths, type PathWatcher } from '../policy/watch-paths.ts';

/**
 * A small file (a signing key, a client secret, a CA bundle) re-read on a timer. Kubernetes updates a
 * mounted Secret by swapping a symlink, which a watch on the file itself misses, so the file is read and
 * compared by digest; the files are a few hundred bytes. With `watchDirectory`, the directory is watched
 * too (watchPaths follows the `..data` swap), so a change is read at once and the poll is only the safety
 * net for a dropped watch. onText sees each new content once; a read or parse error is reported and the
 * last good value stays in force.
 */
export interface WatchedFile {
  /** Resolves after the first read, good or bad. */
  readonly ready: Promise<void>;
  /** Reads the file now (tests, and a nudge after writing it). */
  reload(): Promise<void>;
  stop(): void;
}

export interface WatchedFileOptions {
  readonly path: string;
  readonly pollMs: number;
  /** May throw (an unparseable key): reported through onError, the previous value stays. */
  readonly onText: (text: string) => void | Promise<void>;
  readonly onError: (message: string) => void;
  /** Larger files are refused. Default MAX_SECRET_FILE_BYTES. */
  readonly maxBytes?: number;
  /** Also read as soon as the file's directory reports a change, not only every pollMs. */
  readonly watchDirectory?: boolean;
  /** A directory watch that could not be set up (the poll still reads). Default: onError. */
  readonly onWatchError?: (message: string) => void;
}

export const MAX_SECRET_FILE_BYTES = 64 * 1024;

export function watchFile(options: WatchedFileOptions): WatchedFile {
  let lastDigest: string | undefined;
  let lastError: string | undefined;
  let running: Promise<void> = Promise.resolve();

  async function read(): Promise<void> {
    // Every read, the poll's too, repairs a watch whose directory was replaced or whose watcher died.
    watcher?.rearm();
    let text: string;
    try {
      const bytes = await readFile(options.path);
      const maxBytes = options.maxBytes ?? MAX_SECRET_FILE_BYTES;
      if (bytes.length > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
      const digest = hash('sha256', bytes, 'base64url');
      if (digest === lastDigest) return;
      lastDigest = digest;
      text = bytes.toString('utf8');
    } catch (error) {
      return report(`cannot read ${options.path}: ${(error as Error).message}`);
    }
    try {
      await options.onText(text);
      lastError = undefined;
    } catch (error) {
      report(`${options.path}: ${(error as Error).message}`);
    }
  }

  // The same failure every poll is reported once, not every second.
  function report(message: string): void {
    if (message === lastError) return;
    lastError = message;
    options.onError(message);
  }

  const reload = () => (running = running.then(read));
  const watcher: PathWatcher | undefined = options.watchDirectory
    ? watchPaths([options.path], () => void reload(), options.onWatchError ?? options.onError)
    : undefined;
  const timer = setInterval(() => void reload(), options.pollMs);
  timer.unref();
  return {
    ready: reload(),
    reload,
    stop: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}
