import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Build outputs kept under `cacheDir/<key>/` by a hash of their inputs: with nothing changed, `make cli`
 * copies instead of spending ten seconds on postject. Each entry is about 180 MB (the executable and its
 * archive), so only the few used last are kept; another checkout's build may need the one before.
 */
const KEEP_ENTRIES = 3;

export async function cachedDir(
  cacheDir: string,
  key: string,
  build: (dir: string) => Promise<void>,
): Promise<{ dir: string; cached: boolean }> {
  const dir = join(cacheDir, key);
  let cached = existsSync(dir);
  if (!cached) {
    await mkdir(cacheDir, { recursive: true });
    const staging = await mkdtemp(join(cacheDir, '.staging-'));
    try {
      await build(staging);
      await rename(staging, dir).catch((error: NodeJS.ErrnoException) => {
        // A concurrent build of the same inputs finished first: its outputs are the same.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        cached = true;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  const now = new Date();
  await utimes(dir, now, now);
  await prune(cacheDir);
  return { dir, cached };
}

/** What builds that were killed left (staging directories, bundles) is removed after this long. */
const STALE_LEFTOVER_MS = 3_600_000;

async function prune(cacheDir: string): Promise<void> {
  const found = await Promise.all(
    (await readdir(cacheDir)).map(async (name) => {
      // Another build may remove its own leftovers meanwhile.
      const info = await stat(join(cacheDir, name)).catch(() => undefined);
      return info && { name, used: info.mtimeMs };
    }),
  );
  const entries = found.filter((e) => e !== undefined);
  const stale = entries.filter((e) => e.name.startsWith('.') && Date.now() - e.used > STALE_LEFTOVER_MS);
  const built = entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => b.used - a.used);
  for (const { name } of [...stale, ...built.slice(KEEP_ENTRIES)]) {
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
}
