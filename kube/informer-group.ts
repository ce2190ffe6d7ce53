import type { KubernetesObject } from '@kubernetes/client-node';
import type { EventHandler, Watcher } from './informer.ts';

/**
 * Several informers of one kind read as one cache: one per watched namespace, where permission to list
 * the kind across the cluster is not granted. Keys stay `namespace/name`.
 */
export class InformerGroup<T extends KubernetesObject> implements Watcher<T> {
  readonly #members: readonly Watcher<T>[];

  constructor(members: readonly Watcher<T>[]) {
    this.#members = members;
  }

  get healthy(): boolean {
    return this.#members.every((m) => m.healthy);
  }

  get(key: string): T | undefined {
    for (const member of this.#members) {
      const found = member.get(key);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  list(): T[] {
    return this.#members.flatMap((m) => m.list());
  }

  onEvent(handler: EventHandler<T>): void {
    for (const member of this.#members) member.onEvent(handler);
  }

  async synced(): Promise<void> {
    await Promise.all(this.#members.map((m) => m.synced()));
  }

  start(): void {
    for (const member of this.#members) member.start();
  }

  stop(): void {
    for (const member of this.#members) member.stop();
  }
}
