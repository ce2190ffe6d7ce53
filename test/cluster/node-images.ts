// Image archives the node runs: the add-ons' (test/cluster/build.sh) and the project's (make image).
// They are imported into the node's containerd, in the k8s.io namespace the kubelet uses; nothing is
// ever pulled (there is no registry).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_IMAGE } from './node-configs.ts';
import type { AddonImages } from './addons.ts';

export interface ImageArchive {
  readonly file: string;
  readonly tag: string;
}

/** The tag written in an archive's manifest.json. */
export function archiveTag(file: string): string {
  const manifest = execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' });
  const [entry] = JSON.parse(manifest) as { RepoTags: string[] }[];
  const tag = entry?.RepoTags[0];
  if (tag === undefined) throw new Error(`${file} names no image tag`);
  return tag;
}

export function addonArchives(imagesDir: string): {
  pause: ImageArchive;
  addons: AddonImages;
  all: ImageArchive[];
} {
  const files = readdirSync(imagesDir).filter((name) => name.endsWith('.tar'));
  const find = (prefix: string): ImageArchive => {
    const name = files.find((file) => file.startsWith(`${prefix}-`));
    if (name === undefined) throw new Error(`no ${prefix} image in ${imagesDir}: run test/cluster/build.sh`);
    const file = join(imagesDir, name);
    return { file, tag: archiveTag(file) };
  };
  const pause = find('pause');
  if (pause.tag !== PAUSE_IMAGE)
    throw new Error(`the pause image is ${pause.tag}; containerd expects ${PAUSE_IMAGE}`);
  const coredns = find('coredns');
  const localPathProvisioner = find('local-path-provisioner');
  const busybox = find('busybox');
  return {
    pause,
    addons: {
      coredns: coredns.tag,
      localPathProvisioner: localPathProvisioner.tag,
      busybox: busybox.tag,
    },
    all: [pause, coredns, localPathProvisioner, busybox],
  };
}

/** `ctr images import` into the node's containerd (fast when the layers are there already). */
export function importImages(containerdSocket: string, archives: readonly ImageArchive[]): void {
  for (const archive of archives) {
    execFileSync('ctr', ['--address', containerdSocket, '-n', 'k8s.io', 'images', 'import', archive.file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
}
