// node scripts/bundle/main.ts DIST: bundles DIST/cli/main.js into DIST/bundle/ (what the image runs;
// scripts/bundle/bundle.ts says why). `make build` runs it after tsc.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleDist } from './bundle.ts';

const dist = process.argv[2];
if (dist === undefined || !existsSync(join(dist, 'cli/main.js'))) {
  console.error(
    `bundle: usage: node scripts/bundle/main.ts DIST (DIST/cli/main.js must exist: run tsc first)`,
  );
  process.exit(2);
}
const outdir = join(dist, 'bundle');
await rm(outdir, { recursive: true, force: true });
await bundleDist(join(dist, 'cli/main.js'), outdir);
