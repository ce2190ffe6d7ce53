import { AuditStoreError } from './errors.ts';

/** The server a sidecar id belongs to, as the `sidecars` row holds it. */
export interface SidecarOwner {
  readonly namespace: string;
  readonly server: string;
}

/**
 * Refuses rows (or a heartbeat) of `sidecar` that name another server than its owner. Both stores claim a
 * new sidecar id (insert its `sidecars` row if absent) and then read the owner under the lock their write
 * holds, in the same transaction as the events: so of two servers using a new id at once exactly one owns
 * it, and every write after compares. Without this the collector's in-memory check raced: both servers
 * were accepted, and with the same seq one server's event was acknowledged as the other's "duplicate".
 */
export function checkOwner(
  sidecar: string,
  owner: SidecarOwner | undefined,
  claimants: readonly SidecarOwner[],
): void {
  if (owner === undefined) {
    throw new AuditStoreError('unavailable', `sidecar ${sidecar}: its claim was not found after it was made`);
  }
  const foreign = claimants.find((c) => c.namespace !== owner.namespace || c.server !== owner.server);
  if (foreign === undefined) return;
  throw new AuditStoreError(
    'foreign_sidecar',
    `sidecar ${sidecar} belongs to server ${owner.namespace}/${owner.server}, not ${foreign.namespace}/${foreign.server}`,
  );
}
