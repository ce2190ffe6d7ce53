import type { Condition } from '../../api/v1alpha1/common.ts';

/** An Event worth recording because a condition changed between two statuses. */
export interface ConditionEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/**
 * Events for the transitions a person must hear about: a policy that stopped (or started again)
 * compiling, a mounted ConfigMap or Secret gone missing (or back). Nothing when the condition did not
 * change. Kill switches have their own, one per switch with who and why (kill-switch-events.ts).
 */
export function conditionEvents(
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
): ConditionEvent[] {
  const status = (list: readonly Condition[] | undefined, type: string) => list?.find((c) => c.type === type);
  const events: ConditionEvent[] = [];
  const policyBefore = status(before, 'PolicyReady')?.status;
  const policy = status(after, 'PolicyReady');
  if (policy && policy.status !== policyBefore) {
    if (policy.status === 'False')
      events.push({ type: 'Warning', reason: 'PolicyCompileFailed', message: policy.message });
    else if (policyBefore === 'False')
      events.push({ type: 'Normal', reason: 'PolicyCompiled', message: policy.message });
  }
  const referencesBefore = status(before, 'ReferencesResolved')?.status;
  const references = status(after, 'ReferencesResolved');
  if (references && references.status !== referencesBefore) {
    if (references.status === 'False')
      events.push({ type: 'Warning', reason: 'MissingReference', message: references.message });
    else if (referencesBefore === 'False' && references.status === 'True')
      events.push({ type: 'Normal', reason: 'ReferencesResolved', message: references.message });
  }
  return events;
}
