import type { Condition } from '../../api/v1alpha1/common.ts';

/** A condition as a reconciler decides it; time and generation are filled in by setCondition. */
export interface ConditionUpdate {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/**
 * Sets one condition in a list, keeping lastTransitionTime when the status did not change, so a
 * dashboard shows how long something has been broken, not when we last looked.
 */
export function setCondition(
  existing: readonly Condition[] | undefined,
  update: ConditionUpdate,
  generation: number | undefined,
  now: string,
): Condition[] {
  const previous = existing?.find((c) => c.type === update.type);
  const next: Condition = {
    ...update,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : now,
  };
  return [...(existing ?? []).filter((c) => c.type !== update.type), next].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}

export function setConditions(
  existing: readonly Condition[] | undefined,
  updates: readonly ConditionUpdate[],
  generation: number | undefined,
  now: string,
): Condition[] {
  return updates.reduce<Condition[]>(
    (list, update) => setCondition(list, update, generation, now),
    [...(existing ?? [])],
  );
}
