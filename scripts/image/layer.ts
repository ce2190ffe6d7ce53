import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './command.ts';
import { sha256File } from './hash.ts';

/**
 * One image layer: an uncompressed tar whose sha256 is its diff_id. Layers are cached under
 * $PORTCULLIS_CACHE/images/layers by a key over everything that goes into them, and written by the
 * system's GNU tar reproducibly (entries in name order, mtime 0, owner and group 0 as numbers, no pax
 * headers, no ACLs or xattrs): the same inputs give the same bytes, so the same diff_id.
 */
export interface Layer {
  name: string;
  path: string;
  diffId: string;
  size: number;
  /** What made it, for the image history. */
  description: string;
}

export interface LayerRecipe {
  /** base, node, deps, app, bridge: part of the cached file's name. */
  name: string;
  /** Hash of every input: an unchanged key reuses the cached tar. */
  key: string;
  description: string;
  /** File modes as the build context would give them (rwX for the owner, rX for the rest), not as found. */
  normalizeModes: boolean;
  /** Writes the layer's files into root (an empty directory standing for /). */
  populate(root: string): Promise<void>;
}

/** Unused layers are removed after this many days (a lock file change leaves a ~100 MB node_modules tar). */
const KEEP_DAYS = 14;

export async function cachedLayer(
  layersDir: string,
  recipe: LayerRecipe,
): Promise<Layer & { cached: boolean }> {
  const path = join(layersDir, `${recipe.name}-${recipe.key.slice(0, 24)}.tar`);
  const metaPath = `${path}.json`;
  const base = { name: recipe.name, path, description: recipe.description };
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { diffId: string; size: number };
    const now = new Date();
    await utimes(path, now, now);
    return { ...base, ...meta, cached: true };
  }
  await mkdir(layersDir, { recursive: true });
  const staging = await mkdtemp(join(layersDir, `.${recipe.name}-`));
  try {
    const root = join(staging, 'root');
    await mkdir(root, { mode: 0o755 });
    await recipe.populate(root);
    const layer = await writeLayer(root, join(staging, 'layer.tar'), recipe);
    await rename(layer.path, path);
    const { diffId, size } = layer;
    await writeFile(metaPath, `${JSON.stringify({ diffId, size })}\n`);
    return { ...base, diffId, size, cached: false };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Writes the directory root as the layer tar out (not cached: cachedLayer keeps recipes' layers). */
export async function writeLayer(
  root: string,
  out: string,
  recipe: Pick<LayerRecipe, 'name' | 'description' | 'normalizeModes'>,
): Promise<Layer> {
  await writeLayerTar(root, out, recipe.normalizeModes);
  const { size } = await stat(out);
  return {
    name: recipe.name,
    path: out,
    description: recipe.description,
    diffId: `sha256:${await sha256File(out)}`,
    size,
  };
}

async function writeLayerTar(root: string, out: string, normalizeModes: boolean): Promise<void> {
  // Top-level names as arguments (not "."), so entries read usr/bin/... as in a docker-built layer.
  const entries = (await readdir(root)).sort();
  await run('tar', [
    '--create',
    `--file=${out}`,
    `--directory=${root}`,
    '--sort=name',
    '--format=gnu',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--no-acls',
    '--no-xattrs',
    ...(normalizeModes ? ['--mode=u+rwX,go+rX,go-w'] : []),
    '--',
    ...entries,
  ]);
}

/** Removes cached layers no build has used for KEEP_DAYS days. */
export async function pruneLayers(layersDir: string, now = Date.now()): Promise<void> {
  if (!existsSync(layersDir)) return;
  for (const name of await readdir(layersDir)) {
    if (!name.endsWith('.tar')) continue;
    const path = join(layersDir, name);
    if (now - (await stat(path)).mtimeMs > KEEP_DAYS * 86_400_000) {
      await rm(path, { force: true });
      await rm(`${path}.json`, { force: true });
    }
  }
}
