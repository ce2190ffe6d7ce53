import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mayImport } from '../../eslint.config.js';

const root = join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function ruleIdsFor(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('dependency direction (ARCHITECTURE.md section 4)', () => {
  it('forbids the reverse edges', () => {
    expect(mayImport.sidecar).not.toContain('operator');
    expect(mayImport.operator).not.toContain('sidecar');
    expect(mayImport.policy).toEqual(['api', 'policy']);
    expect(mayImport.api).toEqual(['api']);
    for (const allowed of Object.values(mayImport)) expect(allowed).not.toContain('test');
  });

  it('fails lint when a component imports a folder it may not', async () => {
    const ids = await ruleIdsFor(
      'api/probe.ts',
      "import { validMcpServer } from '../test/fixtures/invalid-objects.ts';\nexport const x = validMcpServer;\n",
    );
    expect(ids).toContain('portcullis/import-boundaries');
  });

  it('resolves relative paths, so nested files and look-alike names are judged by where they point', async () => {
    expect(await ruleIdsFor('sidecar/stages/probe.ts', "export * from '../../operator/x.ts';\n")).toContain(
      'portcullis/import-boundaries',
    );
    expect(await ruleIdsFor('sidecar/stages/probe.ts', "export * from '../operator/x.ts';\n")).toEqual([]);
    expect(
      await ruleIdsFor('policy/probe.ts', "export const m = () => import('../sidecar/x.ts');\n"),
    ).toContain('portcullis/import-boundaries');
  });

  it('lets tests beside the code use the shared fixtures, and nothing else that is forbidden', async () => {
    expect(
      await ruleIdsFor('policy/probe.test.ts', "export * from '../test/fixtures/principals.ts';\n"),
    ).toEqual([]);
    expect(await ruleIdsFor('policy/probe.test.ts', "export * from '../sidecar/x.ts';\n")).toContain(
      'portcullis/import-boundaries',
    );
  });

  it('allows the permitted direction', async () => {
    const ids = await ruleIdsFor(
      'test/probe.ts',
      "import { GROUP } from '../api/v1alpha1/group.ts';\nexport const x = GROUP;\n",
    );
    expect(ids).toEqual([]);
  });
});

describe('pure modules', () => {
  it.each([
    [
      'api/probe.ts',
      "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
      'no-restricted-imports',
    ],
    ['policy/probe.ts', 'export const now = () => Date.now();\n', 'no-restricted-syntax'],
    ['policy/probe.ts', 'export const now = () => new Date();\n', 'no-restricted-syntax'],
    ['sidecar/stages/probe.ts', 'export const env = () => process.env;\n', 'no-restricted-globals'],
  ])('%s: %s is refused', async (file, code, rule) => {
    expect(await ruleIdsFor(file, code)).toContain(rule);
  });

  it('lets main.ts files touch process', async () => {
    expect(await ruleIdsFor('sidecar/main.ts', 'export const env = () => process.env;\n')).toEqual([]);
  });
});
