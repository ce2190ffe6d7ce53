import { CollectorError } from '../errors.ts';
import type { ServerRef } from '../auth/identity.ts';
import type { SidecarState } from '../store/store.ts';

/**
 * Which server each sidecar id belongs to. The token binds a batch to a server, not to a sidecar id, so
 * without this a sidecar of server B could ship events under the id of a sidecar of server A: its seqs
 * would then be stored first and A's real events acknowledged as "duplicates" and never stored. The
 * first server to ship under an id owns it; the store remembers (SidecarState), so ownership survives
 * restarts. Unknown ids are looked up in the store, at most once per `reloadIntervalMs`.
 */
export class SidecarOwners {
  readonly #owners = new Map<string, string>();
  readonly #load: () => Promise<readonly SidecarState[]>;
  readonly #clock: () => number;
  readonly #reloadIntervalMs: number;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;

  constructor(options: {
    load: () => Promise<readonly SidecarState[]>;
    clock: () => number;
    reloadIntervalMs?: number;
  }) {
    this.#load = options.load;
    this.#clock = options.clock;
    this.#reloadIntervalMs = options.reloadIntervalMs ?? 1_000;
  }

  /** Throws identity_mismatch when `sidecar` is known to belong to another server. */
  async check(sidecar: string, server: ServerRef): Promise<void> {
    const key = `${server.namespace}/${server.name}`;
    let owner = this.#owners.get(sidecar);
    if (owner === undefined && this.#clock() - this.#loadedAt >= this.#reloadIntervalMs) {
      await this.#reload();
      owner = this.#owners.get(sidecar);
    }
    if (owner !== undefined && owner !== key) {
      throw new CollectorError(
        'identity_mismatch',
        `sidecar ${sidecar} belongs to server ${owner}, not ${key}`,
      );
    }
  }

  /** After a batch of `server` under `sidecar` was stored. */
  remember(sidecar: string, server: ServerRef): void {
    if (!this.#owners.has(sidecar)) this.#owners.set(sidecar, `${server.namespace}/${server.name}`);
  }

  #reload(): Promise<void> {
    this.#loading ??= this.#load()
      .then((states) => {
        for (const state of states) this.#owners.set(state.sidecar, `${state.namespace}/${state.server}`);
        this.#loadedAt = this.#clock();
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }
}
