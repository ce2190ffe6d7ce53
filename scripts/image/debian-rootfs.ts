import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chooseAlternatives } from './alternatives.ts';
import { pipe, run } from './command.ts';
import type { DebianPackage } from './debian-packages.ts';

/**
 * Unpacks .deb files into a root file system the way bookworm lays it out: merged /usr (/bin, /sbin, /lib,
 * /lib64 are symlinks into /usr), the alternatives the packages' postinst scripts would choose, and each
 * package's control record under /var/lib/dpkg/status.d/ (as distroless images do) so image scanners see
 * the packages and versions. Documentation is left out as the slim Debian images do, except copyrights.
 */
const MERGED_USR = ['bin', 'sbin', 'lib', 'lib64'];

export async function installDebs(root: string, packages: readonly DebianPackage[]): Promise<void> {
  for (const dir of MERGED_USR) {
    await mkdir(join(root, 'usr', dir), { recursive: true, mode: 0o755 });
    await symlink(`usr/${dir}`, join(root, dir));
  }
  const postinsts: string[] = [];
  const control = await mkdtemp(join(tmpdir(), 'pc-image-control-'));
  try {
    for (const deb of packages) {
      // dpkg-deb -x would replace the merged-/usr symlinks by directories; tar keeps them.
      await pipe(
        ['dpkg-deb', '--fsys-tarfile', deb.file],
        ['tar', '-x', '--keep-directory-symlink', '-C', root],
      );
      const dir = join(control, deb.name);
      await run('dpkg-deb', ['--control', deb.file, dir]);
      if (existsSync(join(dir, 'postinst'))) postinsts.push(await readFile(join(dir, 'postinst'), 'utf8'));
      const record = (await readFile(join(dir, 'control'), 'utf8')).trimEnd();
      await mkdir(join(root, 'var/lib/dpkg/status.d'), { recursive: true, mode: 0o755 });
      await writeFile(join(root, 'var/lib/dpkg/status.d', deb.name), `${record}\n`, { mode: 0o644 });
    }
  } finally {
    await rm(control, { recursive: true, force: true });
  }
  for (const { link, name, path } of chooseAlternatives(postinsts)) {
    if (!existsSync(join(root, path)))
      throw new Error(`image: alternative ${name} -> ${path}: not in the packages`);
    await mkdir(join(root, 'etc/alternatives'), { recursive: true, mode: 0o755 });
    await symlink(path, join(root, 'etc/alternatives', name));
    await mkdir(join(root, dirname(link)), { recursive: true, mode: 0o755 });
    await symlink(`/etc/alternatives/${name}`, join(root, link));
  }
  await trimDocumentation(root);
}

async function trimDocumentation(root: string): Promise<void> {
  for (const dir of ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/bug']) {
    await rm(join(root, dir), { recursive: true, force: true });
  }
  const docs = join(root, 'usr/share/doc');
  if (!existsSync(docs)) return;
  for (const name of await readdir(docs)) {
    for (const file of await readdir(join(docs, name)).catch(() => [])) {
      if (file !== 'copyright') await rm(join(docs, name, file), { recursive: true, force: true });
    }
  }
}
