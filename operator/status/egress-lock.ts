import type { Condition } from '../../api/v1alpha1/common.ts';
import type { OperatorSettings } from '../settings.ts';
import type { ConditionUpdate } from './conditions.ts';
import type { ConditionEvent } from './transitions.ts';

/**
 * Whether the server's pods carry the egress lock (operator/builders/egress-lock.ts): an operator-wide
 * setting, shown on each McpServer because it changes what its server container can reach, and the
 * pod annotation portcullis.dev/egress-lock is not where anyone looks. It does not gate Ready: a cluster
 * whose Pod Security level forbids NET_ADMIN disables the lock on purpose, and its servers still serve.
 */
export const EGRESS_LOCKED = 'EgressLocked';

export function egressLockCondition(setting: OperatorSettings['egressLock']): ConditionUpdate {
  if (setting === 'Enabled') {
    return {
      type: EGRESS_LOCKED,
      status: 'True',
      reason: 'LockEnabled',
      message:
        "only the sidecar's UID may send beyond loopback: the server container reaches the network through the sidecar's egress proxy alone",
    };
  }
  return {
    type: EGRESS_LOCKED,
    status: 'False',
    reason: 'DisabledByOperator',
    message:
      'the operator setting egressLock is Disabled: the server container can bypass the egress proxy and reach whatever the NetworkPolicy opens to the pod',
  };
}

/**
 * A Warning when a server's pods lose the lock (also the first time a server is seen without it), a
 * Normal event when they get it back; nothing for a server that always had it.
 */
export function egressLockEvents(
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
): ConditionEvent[] {
  const was = before?.find((c) => c.type === EGRESS_LOCKED)?.status;
  const now = after.find((c) => c.type === EGRESS_LOCKED);
  if (now === undefined || now.status === was) return [];
  if (now.status === 'False')
    return [{ type: 'Warning', reason: 'EgressLockDisabled', message: now.message }];
  if (was === 'False') return [{ type: 'Normal', reason: 'EgressLockEnabled', message: now.message }];
  return [];
}
