import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Ajv, the JSON Schema compiler behind SchemaValidators, in a module of its own: it weighs ~4 MiB at rest
 * and is needed only once a policy turns tool pinning on, so the sidecar imports it then
 * (schemaCompilerModule in schema-validators.ts). Bounds and dialect detection stay in SchemaValidators.
 */
export type JsonSchemaDialect = '2020-12' | '2019-09' | 'draft-07';

type AnyAjv = Ajv | Ajv2019 | Ajv2020;

export type AjvCompilation = { readonly validate: ValidateFunction } | { readonly error: string };

/** One Ajv instance per dialect, made on first use. */
export class AjvCompiler {
  readonly #instances = new Map<JsonSchemaDialect, AnyAjv>();

  compile(schema: Record<string, unknown>, dialect: JsonSchemaDialect): AjvCompilation {
    const ajv = this.#ajv(dialect);
    // Compiled from a private copy, removed from the instance right after: two tools (or two versions
    // of one tool) may carry the same $id, and the compiled function needs nothing the instance keeps.
    const copy = structuredClone(schema);
    try {
      return { validate: ajv.compile(copy) };
    } catch (error) {
      return { error: `the schema does not compile: ${(error as Error).message.slice(0, 500)}` };
    } finally {
      try {
        ajv.removeSchema(copy);
      } catch {
        // Not registered (compile failed before adding it): nothing to remove.
      }
    }
  }

  #ajv(dialect: JsonSchemaDialect): AnyAjv {
    let ajv = this.#instances.get(dialect);
    if (ajv === undefined) {
      const options = {
        strict: false,
        allErrors: true,
        ownProperties: true,
        logger: false as const,
        // The schema is validated against its meta-schema on compile; a broken schema is an error.
        validateSchema: true,
      };
      ajv =
        dialect === '2020-12'
          ? new Ajv2020(options)
          : dialect === '2019-09'
            ? new Ajv2019(options)
            : new Ajv(options);
      (addFormats as unknown as (ajv: AnyAjv) => void)(ajv);
      this.#instances.set(dialect, ajv);
    }
    return ajv;
  }
}
