// A one-layer image from a directory that holds a static binary (and whatever else its container needs),
// written as a `docker save` archive that `ctr images import` loads: the test cluster's add-ons (pause,
// CoreDNS, local-path-provisioner, busybox) are built this way by test/cluster/build.sh. The same layer
// and archive writers as the product image (scripts/image/build-image.ts), so both are reproducible alike.
//
//   node scripts/image/static-image.ts TAG ROOTFS_DIR OUT.tar ENTRYPOINT...
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDockerArchive } from './docker-archive.ts';
import { writeLayer } from './layer.ts';

const [tag, rootfs, out, ...entrypoint] = process.argv.slice(2);
if (tag === undefined || rootfs === undefined || out === undefined || entrypoint.length === 0) {
  console.error('usage: static-image.ts TAG ROOTFS_DIR OUT.tar ENTRYPOINT...');
  process.exit(2);
}
const staging = await mkdtemp(join(tmpdir(), 'portcullis-static-image-'));
try {
  const layer = await writeLayer(rootfs, join(staging, 'layer.tar'), {
    name: 'rootfs',
    description: `scripts/image/static-image.ts ${entrypoint.join(' ')}`,
    normalizeModes: false,
  });
  await writeDockerArchive(
    out,
    tag,
    {
      User: '',
      WorkingDir: '/',
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
      Entrypoint: entrypoint,
      Labels: {},
    },
    [layer],
  );
} finally {
  await rm(staging, { recursive: true, force: true });
}
