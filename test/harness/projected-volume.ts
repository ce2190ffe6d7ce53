import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A directory laid out the way the kubelet lays out a ConfigMap, Secret or projected volume, and updated
 * the way it updates one: each version in a new `..<timestamp>` directory, `..data` pointing at it, and
 * every file a symlink through `..data`. An update writes the new version, then renames a fresh `..data`
 * symlink over the old one: one atomic swap, after which the old version is deleted. A watch on a file
 * itself never sees it; readers see the old content or the new one, never a mix.
 *
 *   const volume = await projectedVolume(dir, { 'ca.crt': caA.certPem });
 *   await volume.publish({ 'ca.crt': caB.certPem });
 */
export interface ProjectedVolume {
  readonly dir: string;
  /** `dir/name`, the path a container is given. */
  path(name: string): string;
  /** Swaps in a new version with these files (the same names as the first). */
  publish(files: Readonly<Record<string, string>>): Promise<void>;
}

export async function projectedVolume(
  dir: string,
  files: Readonly<Record<string, string>>,
): Promise<ProjectedVolume> {
  let version = 0;
  const publish = async (next: Readonly<Record<string, string>>) => {
    version += 1;
    const versionDir = `..2026_01_01_00_00_00.${version}`;
    await mkdir(join(dir, versionDir));
    for (const [name, text] of Object.entries(next)) await writeFile(join(dir, versionDir, name), text);
    const old = version > 1 ? await readlink(join(dir, '..data')) : undefined;
    await symlink(versionDir, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    if (old !== undefined) await rm(join(dir, old), { recursive: true });
  };
  await mkdir(dir, { recursive: true });
  await publish(files);
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name));
  return { dir, path: (name) => join(dir, name), publish };
}
