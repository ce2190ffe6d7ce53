// Builds the Portcullis images without a Docker engine, from the Dockerfile's recipe (scripts/image/recipe.ts),
// as `docker save` archives that `ctr -n k8s.io images import FILE` and `docker load -i FILE` take:
//   portcullis.tar           ghcr.io/portcullis-dev/portcullis:VERSION (the operator, collector, sidecar, bridge)
//   portcullis-examples.tar  ghcr.io/portcullis-dev/portcullis-examples:VERSION (entry point `node`)
// Usage: node scripts/image/build-image.ts [--dist DIR] [--out DIR]   (`make image` runs `make build` first)
// Writes into $PORTCULLIS_CACHE/images (default ~/.cache/portcullis/images) and prints the two paths.
// Layers are cached by their inputs; with nothing changed it rewrites nothing.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DIST_BUNDLE_ENTRY } from '../bundle/bundle.ts';
import { run } from './command.ts';
import { resolvePackages } from './debian-packages.ts';
import { writeDockerArchive } from './docker-archive.ts';
import { hashTree } from './hash.ts';
import { cachedLayer, pruneLayers, type Layer } from './layer.ts';
import { appLayer, baseLayer, bridgeLayer, depsLayer, nodeLayer } from './layers.ts';
import { DEBIAN_ROOTS, examplesConfig, imageNames, productConfig } from './recipe.ts';

const started = performance.now();
const repo = resolve(import.meta.dirname, '../..');
const cache = process.env['PORTCULLIS_CACHE'] ?? join(homedir(), '.cache/portcullis');
const { values } = parseArgs({
  options: { dist: { type: 'string' }, out: { type: 'string' } },
});
const dist = resolve(values.dist ?? join(repo, 'dist'));
const out = resolve(values.out ?? join(cache, 'images'));
const layersDir = join(cache, 'images/layers');

if (!existsSync(join(dist, 'bundle', DIST_BUNDLE_ENTRY))) {
  console.error(
    `image: ${dist}/bundle/${DIST_BUNDLE_ENTRY} missing: run make build (or make image, which does)`,
  );
  process.exit(1);
}
const names = imageNames(repo);
const code = await hashTree(import.meta.dirname);
const nodeDir = resolve((await run(join(repo, 'scripts/node-bin.sh'), ['--always'])).trim(), '..');
const node = await nodeLayer(code, nodeDir);
const recipes = [
  baseLayer(code, await resolvePackages(DEBIAN_ROOTS), join(cache, 'images/debs')),
  node,
  await depsLayer(code, repo),
  await appLayer(code, repo, dist),
  await bridgeLayer(code, repo),
];
const layers = await Promise.all(recipes.map((recipe) => cachedLayer(layersDir, recipe)));
for (const layer of layers) {
  const size = `${(layer.size / 1e6).toFixed(1)} MB`;
  process.stderr.write(
    `image: layer ${layer.name.padEnd(6)} ${size.padStart(9)} ${layer.cached ? 'cached' : 'built'}\n`,
  );
}
const byName = (name: string): Layer => layers.find((l) => l.name === name)!;
const shared = ['base', 'node', 'deps', 'app'].map(byName);

const images = [
  {
    file: 'portcullis.tar',
    tag: names.product,
    config: productConfig(node.version, names.version),
    layers: [...shared, byName('bridge')],
  },
  {
    file: 'portcullis-examples.tar',
    tag: names.examples,
    config: examplesConfig(node.version, names.version),
    layers: shared,
  },
];
for (const image of images) {
  const path = join(out, image.file);
  const { imageId, written } = await writeDockerArchive(path, image.tag, image.config, image.layers);
  process.stderr.write(`image: ${image.tag} ${imageId.slice(0, 19)} ${written ? 'written' : 'unchanged'}\n`);
  console.log(path);
}
await pruneLayers(layersDir);
process.stderr.write(`image: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
