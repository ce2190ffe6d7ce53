// Writes crds/*.yaml and docs/api.md from the TypeScript API (api/v1alpha1), the single source of truth.
// Usage: node scripts/generate-crds.ts [crdDir] [apiDocFile]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCrdFiles } from '../api/crd/render.ts';
import { renderApiReference } from '../api/crd/reference.ts';
import { renderAuditJsonSchemas } from '../api/audit/v1/json-schema.ts';

const outDir = process.argv[2] ?? 'crds';
const apiDoc = process.argv[3] ?? 'docs/api.md';
await mkdir(outDir, { recursive: true });
for (const [file, text] of renderCrdFiles()) {
  await writeFile(join(outDir, file), text);
  console.log(`wrote ${join(outDir, file)}`);
}
await writeFile(apiDoc, renderApiReference());
console.log(`wrote ${apiDoc}`);
const schemaDir = join(apiDoc, '..', 'audit');
await mkdir(schemaDir, { recursive: true });
for (const [file, text] of renderAuditJsonSchemas()) {
  await writeFile(join(schemaDir, file), text);
  console.log(`wrote ${join(schemaDir, file)}`);
}
