import type { z } from 'zod';

/**
 * Helpers that attach Kubernetes OpenAPI metadata to zod schemas. Metadata goes in one `.meta()` call
 * per schema because zod keeps metadata per schema instance; a later `.describe()` would drop it.
 */
export interface CelRule {
  /** A CEL expression over `self` (and `oldSelf` for transition rules). */
  readonly rule: string;
  /** What a person should read when the rule fails: what is wrong and how to fix it. */
  readonly message: string;
  /** Field path reported in the error, relative to the schema that carries the rule. */
  readonly fieldPath?: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface KubeSchemaExtras {
  readonly validations?: readonly CelRule[];
  /** A list keyed by these fields: the API server rejects duplicates and merges by key. */
  readonly listMapKeys?: readonly string[];
  /** A list of unique scalars. */
  readonly listSet?: boolean;
  readonly intOrString?: boolean;
  readonly preserveUnknownFields?: boolean;
  readonly embeddedResource?: boolean;
  readonly format?: string;
}

export function doc<T extends z.ZodType>(schema: T, description: string, extras: KubeSchemaExtras = {}): T {
  const meta: Record<string, unknown> = { description };
  if (extras.validations?.length) meta['x-kubernetes-validations'] = extras.validations;
  if (extras.listMapKeys) {
    meta['x-kubernetes-list-type'] = 'map';
    meta['x-kubernetes-list-map-keys'] = extras.listMapKeys;
  }
  if (extras.listSet) meta['x-kubernetes-list-type'] = 'set';
  if (extras.intOrString) meta['x-kubernetes-int-or-string'] = true;
  if (extras.preserveUnknownFields) meta['x-kubernetes-preserve-unknown-fields'] = true;
  if (extras.embeddedResource) meta['x-kubernetes-embedded-resource'] = true;
  if (extras.format) meta['format'] = extras.format;
  return schema.meta(meta);
}
