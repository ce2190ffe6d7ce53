// Writes crds/*.yaml from the TypeScript API (api/v1alpha1), the single source of truth.
// Usage: node scripts/generate-crds.ts [outDir]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCrdFiles } from '../api/crd/render.ts';

const outDir = process.argv[2] ?? 'crds';
await mkdir(outDir, { recursive: true });
for (const [file, text] of renderCrdFiles()) {
  await writeFile(join(outDir, file), text);
  console.log(`wrote ${join(outDir, file)}`);
}
