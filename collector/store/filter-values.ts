import type { EventRow } from './rows.ts';

/**
 * The SQLite store keeps user, tool and tenant dictionary-encoded (sqlite-schema.ts, migration 3): each
 * distinct value once in `filter_values`, its integer key in the events and their indexes. These are the
 * keys of one write transaction's values, as columnText made them.
 */
export type FilterKeys = ReadonlyMap<string, number>;

/** The dictionary-encoded fields of an event row, and the events column holding each one's key. */
export const dictionaryColumns = [
  ['user', 'user_id'],
  ['tool', 'tool_id'],
  ['tenant', 'tenant_id'],
] as const satisfies readonly (readonly [keyof EventRow, string])[];

// The fields alone, taken from the pairs once: the loop below runs for every stored event.
const dictionaryFields = dictionaryColumns.map(([field]) => field);

/** Every distinct dictionary-encoded value among the rows of some batches. */
export function distinctFilterValues(batches: readonly (readonly EventRow[])[]): Set<string> {
  const values = new Set<string>();
  for (const rows of batches) {
    for (const row of rows) {
      for (const field of dictionaryFields) {
        const value = row[field];
        if (value !== null) values.add(value);
      }
    }
  }
  return values;
}

/** The key of a value resolved for this transaction; a value not resolved is a bug, refused loudly. */
export function filterKey(keys: FilterKeys, value: string | null): number | null {
  if (value === null) return null;
  const key = keys.get(value);
  if (key === undefined) throw new Error(`filter value ${JSON.stringify(value)} was not resolved`);
  return key;
}
