/**
 * The status this operator last wrote for each McpServer: the baseline for the next status and for the
 * transition Events. The informer cache can lag behind our own write: a reconcile that runs before the
 * watch delivers it would otherwise compute from the older status, and announce the same transition
 * (EgressLockEnabled, KillSwitchEngaged, ...) a second time. Only the operator writes this status, so
 * what it wrote last is the newest there is; after a restart the memory is empty and the cache, freshly
 * listed, is the baseline.
 *
 * Keyed by namespace/name and held per uid: a server deleted and created again under the same name
 * starts from its own (empty) status, even if the queue never saw it gone.
 */
export class WrittenStatuses<Status> {
  readonly #byKey = new Map<string, { readonly uid: string | undefined; readonly status: Status }>();

  /** What to compute from: our last write for this very object, else what the cache holds. */
  baseline(key: string, uid: string | undefined, cached: Status | undefined): Status | undefined {
    const written = this.#byKey.get(key);
    return written !== undefined && written.uid === uid ? written.status : cached;
  }

  remember(key: string, uid: string | undefined, status: Status): void {
    this.#byKey.set(key, { uid, status });
  }

  forget(key: string): void {
    this.#byKey.delete(key);
  }
}
