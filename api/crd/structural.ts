import { z } from 'zod';

/**
 * Turns the JSON Schema zod emits into a Kubernetes structural schema (OpenAPI v3 subset).
 * Keywords are allow-listed, so anything Kubernetes would reject or silently ignore is dropped here,
 * and the few shapes that need rewriting (int-or-string, additionalProperties) are rewritten.
 */
export type JsonSchema = { [key: string]: unknown };

const KEPT = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'enum',
  'default',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
  'additionalProperties',
  'format',
  'nullable',
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-map-type',
]);

const SAFE_INTEGER_BOUND = Number.MAX_SAFE_INTEGER;

export function toStructural(node: JsonSchema): JsonSchema {
  if (node['x-kubernetes-int-or-string'] === true) {
    // The union's branches are implied by the extension; structural schemas forbid a bare anyOf here.
    const { anyOf: _anyOf, type: _type, ...rest } = node;
    node = rest;
  }
  for (const combinator of ['anyOf', 'oneOf', 'allOf', 'not', '$ref']) {
    if (combinator in node) {
      throw new Error(`structural schemas cannot express ${combinator}; model the field without a union`);
    }
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (!KEPT.has(key)) continue;
    if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [
          name,
          toStructural(child),
        ]),
      );
    } else if (key === 'items') {
      out[key] = toStructural(value as JsonSchema);
    } else if (key === 'additionalProperties') {
      if (typeof value === 'object' && value !== null) out[key] = toStructural(value as JsonSchema);
      // `false` is the default for structural schemas (unknown fields are pruned or rejected).
    } else if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) >= SAFE_INTEGER_BOUND) {
      // zod's implicit safe-integer bounds carry no meaning for the API.
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The structural schema of a zod schema, as the input a user writes (defaults make fields optional). */
export function structuralSchemaOf(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw', target: 'draft-2020-12' });
  return toStructural(json as JsonSchema);
}
