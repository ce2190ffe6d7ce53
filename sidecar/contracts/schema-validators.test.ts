import { beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_COMPILER_NOT_LOADED, SchemaValidators, schemaCompilerModule } from './schema-validators.ts';

const city = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
  required: ['city'],
};

describe('SchemaValidators before Ajv is loaded', () => {
  it('answers a schema error (the tool cannot be called), and compiles the schema once Ajv is there', async () => {
    const validators = new SchemaValidators();
    expect(schemaCompilerModule.value).toBeUndefined();
    expect(validators.get(city)).toMatchObject({ error: SCHEMA_COMPILER_NOT_LOADED });
    expect(validators.size).toBe(0);
    await schemaCompilerModule.load();
    expect(validators.get(city).check!({ city: 'Oslo' })).toEqual({ ok: true });
  });
});

describe('SchemaValidators', () => {
  beforeAll(() => schemaCompilerModule.load());

  it('compiles a schema once, whatever its key order, and reuses the compiled function', () => {
    const validators = new SchemaValidators();
    const first = validators.get(city);
    const again = validators.get(structuredClone(city));
    const reordered = validators.get({ required: ['city'], properties: city.properties, type: 'object' });
    expect(validators.compilations).toBe(1);
    expect(again).toBe(first);
    expect(reordered).toBe(first);
    for (let i = 0; i < 100; i++) first.check!({ city: 'Lisbon' });
    expect(validators.compilations).toBe(1);
    validators.get({ ...city, required: [] });
    expect(validators.compilations).toBe(2);
  });

  it('reports readable errors with the instance path', () => {
    const check = new SchemaValidators().get(city).check!;
    expect(check({ city: 'Lisbon', days: 2 })).toEqual({ ok: true });
    expect(check({ city: 42, days: 0 })).toEqual({
      ok: false,
      errors: ['/city: must be string', '/days: must be >= 1'],
    });
    expect(check({})).toEqual({ ok: false, errors: ["(arguments): must have required property 'city'"] });
  });

  it('caps the listed errors', () => {
    const properties = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`p${i}`, { type: 'string' }]),
    );
    const check = new SchemaValidators().get({ type: 'object', properties }).check!;
    const args = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, i]));
    const result = check(args);
    expect(result.errors).toHaveLength(11);
    expect(result.errors?.at(-1)).toBe('... and 20 more');
  });

  it('uses 2020-12 by default and the dialect a schema names', () => {
    const validators = new SchemaValidators();
    const tuple = { type: 'array', prefixItems: [{ type: 'string' }], items: false };
    expect(validators.get(tuple).check!(['a', 'b']).ok).toBe(false); // 2020-12: no extra items
    const draft7 = validators.get({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'array',
      items: [{ type: 'string' }],
      additionalItems: false,
    });
    expect(draft7.error).toBeUndefined();
    expect(draft7.check!(['a', 'b']).ok).toBe(false);
    expect(draft7.check!(['a']).ok).toBe(true);
    expect(
      validators.get({ $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'string' }).check!('x'),
    ).toEqual({ ok: true });
  });

  it('checks formats', () => {
    const check = new SchemaValidators().get({ type: 'string', format: 'email' }).check!;
    expect(check('a@example.com').ok).toBe(true);
    expect(check('not an address').ok).toBe(false);
  });

  it('refuses what it cannot check: unknown dialects, broken schemas, remote references, huge or deep ones', () => {
    const validators = new SchemaValidators();
    expect(validators.get({ $schema: 'http://json-schema.org/draft-04/schema#' }).error).toMatch(
      /unsupported JSON Schema dialect/,
    );
    expect(validators.get({ type: 'no-such-type' }).error).toMatch(/does not compile/);
    expect(validators.get({ $ref: 'https://evil.example.com/schema.json' }).error).toMatch(
      /does not compile/,
    );
    expect(validators.get([]).error).toMatch(/not a JSON object/);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 70; i++) deep = { type: 'object', properties: { a: deep } };
    expect(validators.get(deep).error).toMatch(/nested deeper/);
    expect(validators.get({ type: 'string', description: 'x'.repeat(300_000) }).error).toMatch(/larger than/);
  });

  it('compiles two schemas that share an $id (two versions of one tool)', () => {
    const validators = new SchemaValidators();
    const v1 = validators.get({
      $id: 'https://example.com/forecast.json',
      type: 'object',
      required: ['city'],
    });
    const v2 = validators.get({
      $id: 'https://example.com/forecast.json',
      type: 'object',
      required: ['town'],
    });
    expect(v1.error).toBeUndefined();
    expect(v2.error).toBeUndefined();
    expect(v1.check!({ city: 'x' }).ok).toBe(true);
    expect(v2.check!({ city: 'x' }).ok).toBe(false);
  });

  it('drops compiled schemas no longer used', () => {
    const validators = new SchemaValidators();
    const keep = validators.get(city);
    validators.get({ type: 'string' });
    expect(validators.size).toBe(2);
    validators.retain(new Set([keep.key]));
    expect(validators.size).toBe(1);
    expect(validators.get(city)).toBe(keep);
  });
});
