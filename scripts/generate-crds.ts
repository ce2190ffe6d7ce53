// Writes crds/*.yaml and docs/api.md from the TypeScript API (api/v1alpha1), the single source of truth,
// and the same CRD files into the Helm chart (charts/portcullis/files/crds/, which its templates read:
// .Files.Get cannot reach outside the chart directory).
// Usage: node scripts/generate-crds.ts [crdDir] [apiDocFile] [chartCrdDir]
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderCrdFiles } from '../api/crd/render.ts';
import { renderApiReference } from '../api/crd/reference.ts';
import { renderAuditJsonSchemas } from '../api/audit/v1/json-schema.ts';

const outDir = process.argv[2] ?? 'crds';
const apiDoc = process.argv[3] ?? 'docs/api.md';
const chartCrdDir = process.argv[4] ?? 'charts/portcullis/files/crds';
for (const dir of [outDir, chartCrdDir]) {
  await mkdir(dir, { recursive: true });
  for (const [file, text] of renderCrdFiles()) {
    await writeFile(join(dir, file), text);
    console.log(`wrote ${join(dir, file)}`);
  }
}
await writeFile(apiDoc, renderApiReference());
console.log(`wrote ${apiDoc}`);
const schemaDir = join(apiDoc, '..', 'audit');
await mkdir(schemaDir, { recursive: true });
for (const [file, text] of renderAuditJsonSchemas()) {
  await writeFile(join(schemaDir, file), text);
  console.log(`wrote ${join(schemaDir, file)}`);
}
