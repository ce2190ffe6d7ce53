import type { z } from 'zod';

/**
 * Helpers that attach Kubernetes OpenAPI metadata to zod schemas. Metadata goes in one `.meta()` call
 * per schema because zod keeps metadata per schema instance; a later `.describe()` would drop it.
 */
export interface CelRule<Self = never> {
  /** A CEL expression over `self`, evaluated by the API server. */
  readonly rule: string;
  /** What a person should read when the rule fails: what is wrong and how to fix it. */
  readonly message: string;
  /** Field path reported in the error, relative to the schema that carries the rule. */
  readonly fieldPath?: string;
  readonly reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /**
   * The same rule in TypeScript, so files validated without an API server (the sidecar's file mode,
   * `portcullis policy test`) get the same answer. Tests feed both the same invalid objects.
   */
  readonly check: (self: Self) => boolean;
}

/** The CRD form of a rule: what goes into x-kubernetes-validations. */
export function celRuleForCrd(rule: CelRule<never>): Omit<CelRule<never>, 'check'> {
  const { check: _check, ...crd } = rule;
  return crd;
}

export interface KubeSchemaExtras<Self = never> {
  readonly validations?: readonly CelRule<Self>[];
  /** A list keyed by these fields: the API server rejects duplicates and merges by key. */
  readonly listMapKeys?: readonly string[];
  /** A list of unique scalars. */
  readonly listSet?: boolean;
  readonly intOrString?: boolean;
  readonly preserveUnknownFields?: boolean;
  readonly embeddedResource?: boolean;
  readonly format?: string;
}

export function doc<T extends z.ZodType>(
  schema: T,
  description: string,
  extras: KubeSchemaExtras<NonNullable<z.output<T>>> = {},
): T {
  const meta: Record<string, unknown> = { description };
  let checked: T = schema;
  for (const rule of extras.validations ?? []) {
    // An absent optional field has nothing to validate, as in CEL.
    checked = checked.refine((self) => self === undefined || rule.check(self as NonNullable<z.output<T>>), {
      message: rule.message,
      ...(rule.fieldPath ? { path: rule.fieldPath.replace(/^\./, '').split('.') } : {}),
    }) as unknown as T;
  }
  const listKeys = extras.listMapKeys;
  if (listKeys || extras.listSet) {
    // The API server rejects duplicate keys of map lists and duplicate set items; so do we.
    const keyOf = (item: unknown) =>
      JSON.stringify(listKeys ? listKeys.map((k) => (item as Record<string, unknown>)[k]) : item);
    checked = checked.refine(
      (list) =>
        list === undefined || new Set((list as unknown[]).map(keyOf)).size === (list as unknown[]).length,
      {
        message: listKeys
          ? `Duplicate value: entries must have unique ${listKeys.join(', ')}`
          : 'Duplicate value',
      },
    ) as unknown as T;
  }
  if (extras.validations?.length) meta['x-kubernetes-validations'] = extras.validations.map(celRuleForCrd);
  if (extras.listMapKeys) {
    meta['x-kubernetes-list-type'] = 'map';
    meta['x-kubernetes-list-map-keys'] = extras.listMapKeys;
  }
  if (extras.listSet) meta['x-kubernetes-list-type'] = 'set';
  if (extras.intOrString) meta['x-kubernetes-int-or-string'] = true;
  if (extras.preserveUnknownFields) meta['x-kubernetes-preserve-unknown-fields'] = true;
  if (extras.embeddedResource) meta['x-kubernetes-embedded-resource'] = true;
  if (extras.format) meta['format'] = extras.format;
  return checked.meta(meta);
}
