import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Small state files (identity, lost ranges) are replaced atomically: written to a temporary file, fsynced,
 * renamed over the old one, and the directory fsynced, so after a crash or power loss the file holds either
 * the old or the new content, never a mix. A failed replacement removes its temporary (on a full volume it
 * would otherwise hold on to the space).
 */
export const TEMPORARY_SUFFIX = '.tmp';

export async function replaceFileAtomically(path: string, content: string | Buffer): Promise<void> {
  const temporary = path + TEMPORARY_SUFFIX;
  try {
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/** The synchronous twin, for recovery before the WAL serves anything. */
export function replaceFileAtomicallySync(path: string, content: string | Buffer): void {
  const temporary = path + TEMPORARY_SUFFIX;
  try {
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeFileSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // The next recovery removes it.
    }
    throw error;
  }
  fsyncDirectorySync(dirname(path));
}

/** Makes creations, renames and deletions in the directory durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

export function fsyncDirectorySync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
