import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Input keys: a layer is rebuilt only when the hash of what goes into it changes. */
export function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

/** The sha256 of exactly these bytes (a config's digest, the image ID). */
export function sha256Bytes(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every path, type, executable bit, symlink target and file content under dir, in name order. */
export async function hashTree(dir: string): Promise<string> {
  const hash = createHash('sha256');
  await walk(dir, '', hash);
  return hash.digest('hex');
}

async function walk(dir: string, relative: string, hash: Hash): Promise<void> {
  for (const name of (await readdir(join(dir, relative))).sort()) {
    const path = join(relative, name);
    const stat = await lstat(join(dir, path));
    if (stat.isDirectory()) {
      hash.update(`d ${path}\0`);
      await walk(dir, path, hash);
    } else if (stat.isSymbolicLink()) {
      hash.update(`l ${path} ${await readlink(join(dir, path))}\0`);
    } else {
      hash.update(`f ${path} ${stat.mode & 0o111 ? 'x' : '-'}\0`).update(await readFile(join(dir, path)));
    }
  }
}
