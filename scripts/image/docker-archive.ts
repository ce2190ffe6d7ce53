import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { run } from './command.ts';
import { sha256Bytes } from './hash.ts';
import type { Layer } from './layer.ts';

/**
 * A `docker save` archive: manifest.json (Config, RepoTags, Layers), the image config named by its
 * sha256, and each layer as DIFF_ID/layer.tar. `docker load` and `ctr images import` both read it.
 */
export interface ContainerConfig {
  User: string;
  WorkingDir: string;
  Env: string[];
  Entrypoint: string[];
  Cmd?: string[];
  Labels: Record<string, string>;
}

/** Every timestamp in the image: a fixed one, so an unchanged input gives an unchanged image ID. */
const CREATED = '1970-01-01T00:00:00Z';

export function imageConfig(config: ContainerConfig, layers: readonly Layer[]): string {
  return JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: CREATED,
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: CREATED, created_by: l.description })),
  });
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Writes the archive to out unless out already holds this very image (same config digest, recorded beside
 * it in out.id). Returns whether it wrote.
 */
export async function writeDockerArchive(
  out: string,
  tag: string,
  config: ContainerConfig,
  layers: readonly Layer[],
): Promise<{ imageId: string; written: boolean }> {
  const configJson = imageConfig(config, layers);
  // The image ID is the sha256 of the config bytes exactly as stored.
  const imageId = `sha256:${sha256Bytes(configJson)}`;
  const idFile = `${out}.id`;
  if (
    existsSync(out) &&
    existsSync(idFile) &&
    (await readFile(idFile, 'utf8')).trim() === `${imageId} ${tag}`
  ) {
    return { imageId, written: false };
  }
  await mkdir(dirname(out), { recursive: true });
  const staging = await mkdtemp(join(dirname(out), `.${basename(out)}-`));
  try {
    const manifest = [
      {
        Config: `${hex(imageId)}.json`,
        RepoTags: [tag],
        Layers: layers.map((l) => `${hex(l.diffId)}/layer.tar`),
      },
    ];
    await writeFile(join(staging, `${hex(imageId)}.json`), configJson);
    await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest));
    for (const layer of layers) {
      await mkdir(join(staging, hex(layer.diffId)));
      await linkOrCopy(layer.path, join(staging, hex(layer.diffId), 'layer.tar'));
    }
    const names = [`${hex(imageId)}.json`, 'manifest.json', ...layers.map((l) => hex(l.diffId))];
    const partial = join(staging, 'image.tar');
    await run('tar', [
      '--create',
      `--file=${partial}`,
      `--directory=${staging}`,
      '--sort=name',
      '--format=gnu',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--hard-dereference',
      '--mode=u+rw,go+r,go-w',
      '--',
      ...[...new Set(names)].sort(),
    ]);
    await rename(partial, out);
    await writeFile(idFile, `${imageId} ${tag}\n`);
    return { imageId, written: true };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to); // the cache on another file system than --out
  }
}
