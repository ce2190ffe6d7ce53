import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCrds } from './definitions.ts';
import { renderCrdFiles } from './render.ts';
import { renderApiReference } from './reference.ts';
import type { JsonSchema } from './structural.ts';
import { structuralSchemaOf } from './structural.ts';
import { z } from 'zod';

const crdsDir = join(import.meta.dirname, '../../crds');

/** Every property path that lacks a description, so `kubectl explain` teaches the whole API. */
function undocumented(schema: JsonSchema, path: string): string[] {
  const missing = typeof schema['description'] === 'string' && schema['description'] !== '' ? [] : [path];
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const children = Object.entries(properties).flatMap(([name, child]) =>
    undocumented(child, `${path}.${name}`),
  );
  const items = schema['items']
    ? undocumented(schema['items'] as JsonSchema, `${path}[]`).filter((p) => p.includes('.', path.length + 3))
    : [];
  return [...missing, ...children, ...items];
}

describe('generated CRDs', () => {
  it('match the committed crds/*.yaml (run `make crds` after changing api/)', () => {
    const committed = new Map(readdirSync(crdsDir).map((f) => [f, readFileSync(join(crdsDir, f), 'utf8')]));
    expect(committed).toEqual(renderCrdFiles());
  });

  it('match the committed docs/api.md (run `make crds` after changing api/)', () => {
    const reference = renderApiReference();
    expect(readFileSync(join(crdsDir, '../docs/api.md'), 'utf8')).toBe(reference);
    expect(reference).toContain('`spec.auth.publicUrl` (required)');
    expect(reference).toContain('portcullis.dev/kill-switch');
  });

  it.each([...generateCrds()].map(([file, crd]) => [file, crd]))('%s documents every field', (_file, crd) => {
    const version = (crd['spec'] as { versions: { schema: { openAPIV3Schema: JsonSchema } }[] }).versions[0];
    const root = version!.schema.openAPIV3Schema;
    const properties = root['properties'] as Record<string, JsonSchema>;
    expect(undocumented(properties['spec']!, 'spec')).toEqual([]);
    expect(undocumented(properties['status']!, 'status')).toEqual([]);
  });
});

describe('structural schema conversion', () => {
  it('refuses unions, which structural schemas cannot express', () => {
    expect(() => structuralSchemaOf(z.union([z.string(), z.object({ a: z.string() })]))).toThrow(/anyOf/);
  });

  it('drops keywords Kubernetes does not accept and zod implicit bounds', () => {
    const out = structuralSchemaOf(z.strictObject({ n: z.int(), m: z.record(z.string(), z.string()) }));
    expect(out).toEqual({
      type: 'object',
      properties: { n: { type: 'integer' }, m: { type: 'object', additionalProperties: { type: 'string' } } },
      required: ['n', 'm'],
    });
  });
});
