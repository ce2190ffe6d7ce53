import type { ErrorObject } from 'ajv';
import { lazyModule } from '../../lib/lazy-module.ts';
import { contentHash } from '../../policy/hash.ts';
import type { AjvCompiler, JsonSchemaDialect } from './ajv-compiler.ts';

/**
 * JSON Schema validators for tool inputs and outputs, compiled once per distinct schema (keyed by the
 * hash of its canonical JSON) and shared by every tool definition that uses it. A call then costs one
 * call of the compiled function; nothing is parsed or compiled on the request path.
 *
 * Dialect: the schema's `$schema` when it names 2020-12, 2019-09 or draft-07; without one, 2020-12 (the
 * MCP default). Anything else cannot be checked and is reported as a schema error, which the caller
 * treats as "this contract cannot be enforced" (fail closed under Enforce).
 *
 * Schemas come from the server being gated, so they are bounded before Ajv sees them (size, depth), never
 * fetch remote references (compile is synchronous and has no loader: an unresolvable $ref is an error),
 * and are compiled without strict mode (unknown keywords and formats are ignored, as JSON Schema says).
 *
 * The compiler itself, Ajv, is imported only once a policy turns tool pinning on: the policy sources load
 * schemaCompilerModule before they install such a policy (sidecar/policy/engines.ts). Asked for a schema
 * before that, get() answers a schema error, not cached: the tool cannot be called (fail closed).
 */
export interface SchemaCheck {
  readonly ok: boolean;
  /** Readable errors, at most MAX_REPORTED_ERRORS, e.g. `/city: must be string`. */
  readonly errors?: readonly string[];
}

export interface CompiledSchema {
  /** Hash of the schema's canonical JSON: the cache key. */
  readonly key: string;
  /** Present when the schema compiled. */
  check?(value: unknown): SchemaCheck;
  /** Why the schema could not be compiled. */
  readonly error?: string;
}

/** Ajv (~4 MiB at rest), imported when a policy first needs schema checks. */
export const schemaCompilerModule = lazyModule(() => import('./ajv-compiler.ts'));

/** Why a schema cannot be checked before Ajv is loaded. */
export const SCHEMA_COMPILER_NOT_LOADED = 'the JSON Schema compiler is not loaded';

const DIALECTS = {
  '2020-12': ['https://json-schema.org/draft/2020-12/schema'],
  '2019-09': ['https://json-schema.org/draft/2019-09/schema'],
  'draft-07': ['http://json-schema.org/draft-07/schema', 'https://json-schema.org/draft-07/schema'],
} as const satisfies Record<JsonSchemaDialect, readonly string[]>;
type Dialect = keyof typeof DIALECTS;

const MAX_SCHEMA_BYTES = 256 * 1024;
const MAX_SCHEMA_DEPTH = 64;
const MAX_REPORTED_ERRORS = 10;

function dialectOf(schema: Record<string, unknown>): Dialect | string {
  const declared = schema['$schema'];
  if (declared === undefined) return '2020-12';
  if (typeof declared !== 'string') return String(declared);
  const bare = declared.replace(/#$/, '');
  for (const [dialect, uris] of Object.entries(DIALECTS))
    if ((uris as readonly string[]).includes(bare)) return dialect;
  return declared;
}

function depthWithin(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (++visited > 100_000) return false;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= limit) return false;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return true;
}

export function formatSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? [])
    .slice(0, MAX_REPORTED_ERRORS)
    .map((e) => `${e.instancePath === '' ? '(arguments)' : e.instancePath}: ${e.message ?? e.keyword}`);
  const more = (errors?.length ?? 0) - lines.length;
  if (more > 0) lines.push(`... and ${more} more`);
  return lines;
}

export class SchemaValidators {
  #compiler: AjvCompiler | undefined;
  readonly #cache = new Map<string, CompiledSchema>();
  #compilations = 0;

  /** How many schemas were compiled since start (each distinct schema once). */
  get compilations(): number {
    return this.#compilations;
  }

  get size(): number {
    return this.#cache.size;
  }

  /** The compiled schema for this JSON Schema, compiling it only the first time it is seen. */
  get(schema: unknown): CompiledSchema {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
      return { key: '', error: 'the schema is not a JSON object' };
    const key = contentHash(schema);
    let compiled = this.#cache.get(key);
    if (compiled === undefined) {
      const module = schemaCompilerModule.value;
      if (module === undefined) return { key, error: SCHEMA_COMPILER_NOT_LOADED };
      this.#compiler ??= new module.AjvCompiler();
      compiled = this.#compile(this.#compiler, schema as Record<string, unknown>, key);
      this.#cache.set(key, compiled);
    }
    return compiled;
  }

  /** Drops every compiled schema whose key is not in `keep` (schemas no definition uses any more). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.#cache.keys()) if (!keep.has(key)) this.#cache.delete(key);
  }

  #compile(compiler: AjvCompiler, schema: Record<string, unknown>, key: string): CompiledSchema {
    const size = JSON.stringify(schema).length;
    if (size > MAX_SCHEMA_BYTES) return { key, error: `the schema is larger than ${MAX_SCHEMA_BYTES} bytes` };
    if (!depthWithin(schema, MAX_SCHEMA_DEPTH))
      return { key, error: `the schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels` };
    const dialect = dialectOf(schema);
    if (!Object.hasOwn(DIALECTS, dialect))
      return { key, error: `unsupported JSON Schema dialect ${JSON.stringify(dialect).slice(0, 200)}` };
    this.#compilations++;
    const compilation = compiler.compile(schema, dialect as Dialect);
    if ('error' in compilation) return { key, error: compilation.error };
    const { validate } = compilation;
    return {
      key,
      check(value) {
        if (validate(value)) return VALID;
        return { ok: false, errors: formatSchemaErrors(validate.errors) };
      },
    };
  }
}

const VALID: SchemaCheck = { ok: true };
