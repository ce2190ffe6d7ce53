import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Change notification for policy files that survives the way files are really replaced. Editors, `kubectl
 * cp` and config tools write a temporary file and rename it over the old one; a ConfigMap volume swaps a
 * `..data` symlink to a new directory. A watch on the file itself follows the old inode and goes silent
 * after the first such replacement. So we watch directories only (see targets), keeping, in a parent, events
 * for the configured name and for Kubernetes' `..`-prefixed entries.
 *
 * `rearm()` re-creates any watch whose directory was removed, replaced (another inode) or whose watcher
 * failed; the file source calls it before every read, so the poll that backs this up also repairs it.
 * Events carry no content: the caller re-reads and compares by content.
 */
export interface PathWatcher {
  rearm(): void;
  close(): void;
}

interface Watched {
  readonly dir: string;
  /** The file's name inside dir, or undefined when the configured path is the directory itself. */
  readonly name: string | undefined;
  watcher: FSWatcher | undefined;
  inode: number | undefined;
}

export function watchPaths(
  paths: readonly string[],
  onChange: () => void,
  onError: (message: string) => void,
): PathWatcher {
  const entries: Watched[] = paths
    .flatMap(targets)
    .map((where) => ({ ...where, watcher: undefined, inode: undefined }));
  let closed = false;

  const relevant = (entry: Watched, filename: string | null) =>
    entry.name === undefined || filename === null || filename === entry.name || filename.startsWith('..');

  function arm(entry: Watched): void {
    entry.watcher?.close();
    entry.watcher = undefined;
    entry.inode = inodeOf(entry.dir);
    if (entry.inode === undefined) return; // not there (yet): the next rearm tries again
    try {
      const watcher = watch(entry.dir, { persistent: false }, (_event, filename) => {
        if (relevant(entry, filename)) onChange();
      });
      watcher.on('error', (error) => {
        // The directory went away under the watch (or the kernel dropped it): read now, re-arm then.
        watcher.close();
        if (entry.watcher === watcher) entry.watcher = undefined;
        onError(`watch on ${entry.dir} failed (${error.message}); re-arming`);
        onChange();
      });
      entry.watcher = watcher;
    } catch (error) {
      onError(`cannot watch ${entry.dir}: ${(error as Error).message}; relying on polling`);
    }
  }

  for (const entry of entries) arm(entry);
  return {
    rearm() {
      if (closed) return;
      for (const entry of entries) {
        if (entry.watcher === undefined || inodeOf(entry.dir) !== entry.inode) arm(entry);
      }
    },
    close() {
      closed = true;
      for (const entry of entries) entry.watcher?.close();
    },
  };
}

/**
 * A file (or a symlink to one, or a name not there yet) is watched through its parent. A directory is watched
 * as itself, for its files, and through its parent, for the directory being replaced (deleted and created
 * again, or a symlink to it swapped), which a watch on the old directory never reports.
 */
function targets(path: string): { dir: string; name: string | undefined }[] {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // Missing for now: watch where it will appear.
  }
  const parent = { dir: dirname(path), name: basename(path) };
  return isDirectory ? [{ dir: path, name: undefined }, parent] : [parent];
}

function inodeOf(dir: string): number | undefined {
  try {
    return statSync(dir).ino;
  } catch {
    return undefined;
  }
}
