import type { ToolDefinitionLike } from '../../policy/tool-digest.ts';

export type Durability = 'strict' | 'batched';

/**
 * How durable a call's decision must be before the call is forwarded (spec.audit.durability).
 * Auto: strict unless the server declared the tool read-only. The hint is the server's own claim, so
 * it only relaxes durability, never authorization; a tool the sidecar has not seen listed is strict.
 */
export function durabilityFor(
  setting: 'Auto' | 'Strict' | 'Batched',
  definition: ToolDefinitionLike | undefined,
): Durability {
  if (setting === 'Strict') return 'strict';
  if (setting === 'Batched') return 'batched';
  const annotations = definition?.annotations;
  const readOnly =
    typeof annotations === 'object' &&
    annotations !== null &&
    (annotations as Record<string, unknown>).readOnlyHint === true;
  return readOnly ? 'batched' : 'strict';
}
