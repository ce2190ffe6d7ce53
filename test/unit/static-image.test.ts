import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** The test cluster's add-on images (test/cluster/build.sh) come from scripts/image/static-image.ts. */
const SCRIPT = resolve(import.meta.dirname, '../../scripts/image/static-image.ts');
const work = mkdtempSync(join(tmpdir(), 'static-image-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function build(out: string): Buffer {
  const rootfs = join(work, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  writeFileSync(join(rootfs, 'bin', 'tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(rootfs, 'bin', 'tool'), 0o755);
  execFileSync(process.execPath, [SCRIPT, 'portcullis.test/tool:1.0', rootfs, out, '/bin/tool', '--flag']);
  return readFileSync(out);
}

const untar = (archive: string, dir: string, ...names: string[]) =>
  execFileSync('tar', ['-x', '-f', archive, '-C', dir, ...names]);

describe('static-image.ts', () => {
  it('writes a docker-save archive: the tag, the entrypoint, and the rootfs as its one layer', () => {
    const archive = join(work, 'a.tar');
    build(archive);
    const out = join(work, 'a');
    mkdirSync(out);
    untar(archive, out);
    const [manifest] = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    expect(manifest!.RepoTags).toEqual(['portcullis.test/tool:1.0']);
    expect(manifest!.Layers).toHaveLength(1);
    const config = JSON.parse(readFileSync(join(out, manifest!.Config), 'utf8')) as {
      config: { Entrypoint: string[] };
      rootfs: { diff_ids: string[] };
    };
    expect(config.config.Entrypoint).toEqual(['/bin/tool', '--flag']);
    const listing = execFileSync('tar', ['-t', '-v', '-f', join(out, manifest!.Layers[0]!)], {
      encoding: 'utf8',
    });
    expect(listing).toMatch(/-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 bin\/tool/);
  });

  it('is reproducible: the same rootfs gives the same bytes', () => {
    expect(build(join(work, 'b.tar')).equals(build(join(work, 'c.tar')))).toBe(true);
  });
});
