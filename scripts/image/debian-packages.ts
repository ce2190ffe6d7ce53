import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './command.ts';

/**
 * The Debian packages of the base layer: the dependency closure of the roots as apt resolves it on this
 * (bookworm) machine, without Recommends, like `apt-get install --no-install-recommends` in the Dockerfile,
 * downloaded once with `apt-get download` into the cache. No dpkg database, no maintainer scripts.
 */
export interface DebianPackage {
  name: string;
  version: string;
  /** The cached .deb. */
  file: string;
}

const DEPENDS_ONLY = [
  '--recurse',
  '--no-recommends',
  '--no-suggests',
  '--no-conflicts',
  '--no-breaks',
  '--no-replaces',
  '--no-enhances',
];

/** name=version of every package the roots need, sorted by name (a base layer's cache key). */
export async function resolvePackages(
  roots: readonly string[],
): Promise<{ name: string; version: string }[]> {
  const tree = await run('apt-cache', ['depends', ...DEPENDS_ONLY, ...roots]);
  const names = [...new Set(tree.split('\n').filter((line) => line !== '' && !line.startsWith(' ')))].sort();
  const virtual = names.filter((name) => name.startsWith('<'));
  if (virtual.length > 0) {
    throw new Error(
      `image: virtual packages in the closure of ${roots.join(' ')}: ${virtual.join(' ')}; name a provider`,
    );
  }
  const shown = await run('apt-cache', ['show', '--no-all-versions', ...names]);
  const versions = new Map<string, string>();
  for (const stanza of shown.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const version = /^Version: (\S+)$/m.exec(stanza)?.[1];
    if (name && version && !versions.has(name)) versions.set(name, version);
  }
  return names.map((name) => {
    const version = versions.get(name);
    if (!version) throw new Error(`image: apt knows no candidate version of ${name} (run apt-get update)`);
    return { name, version };
  });
}

/** apt-get download spells an epoch's colon as %3a in the file name. */
function debPrefix(name: string, version: string): string {
  return `${name}_${version.replace(/:/g, '%3a')}_`;
}

async function findDeb(dir: string, name: string, version: string): Promise<string | undefined> {
  const prefix = debPrefix(name, version);
  const file = (await readdir(dir)).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  return file ? join(dir, file) : undefined;
}

/** The .deb of each package, downloading only those not cached yet. */
export async function downloadPackages(
  packages: readonly { name: string; version: string }[],
  debDir: string,
): Promise<DebianPackage[]> {
  await mkdir(debDir, { recursive: true });
  const missing = [];
  for (const p of packages)
    if (!(await findDeb(debDir, p.name, p.version))) missing.push(`${p.name}=${p.version}`);
  if (missing.length > 0) {
    process.stderr.write(`image: apt-get download ${missing.join(' ')}\n`);
    await run('apt-get', ['download', '-q', ...missing], { cwd: debDir }).catch((error: Error) => {
      throw new Error(`${error.message}\n(the apt lists may be stale: apt-get update)`);
    });
  }
  const found: DebianPackage[] = [];
  for (const p of packages) {
    const file = await findDeb(debDir, p.name, p.version);
    if (!file || !existsSync(file))
      throw new Error(`image: apt-get download left no .deb for ${p.name}=${p.version}`);
    found.push({ ...p, file });
  }
  // Versions a Debian point release replaced are not needed again.
  const keep = new Set(found.map((p) => p.file));
  for (const name of await readdir(debDir)) {
    if (name.endsWith('.deb') && !keep.has(join(debDir, name))) await rm(join(debDir, name), { force: true });
  }
  return found;
}
