import type { KubeConfig, KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { Watch } from '@kubernetes/client-node';
import { collectionPath, objectKey, type ResourceType } from './resource.ts';

/**
 * List, then watch from the list's resourceVersion, forever. A watch that ends cleanly (the server's
 * timeout, a proxy) is resumed at once from the last seen resourceVersion, which bookmarks keep fresh on
 * quiet resources; 410 Gone means that version was compacted away, so it relists. Errors back off
 * exponentially (capped) and relist. On relist the cache is replaced, and handlers see the deletions
 * that happened while disconnected.
 */
export type EventType = 'added' | 'modified' | 'deleted';
export type EventHandler<T> = (type: EventType, object: T, previous?: T) => void;

export interface InformerOptions {
  readonly namespace?: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  readonly onError?: (error: unknown, retryInMs: number) => void;
  readonly maxBackoffMs?: number;
}

class GoneError extends Error {}

/**
 * Cached objects without metadata.managedFields: the field-ownership history is often larger than the
 * object itself, and nothing reading the cache needs it (a thousand cached servers hold it in memory).
 */
function slim<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

export class Informer<T extends KubernetesObject> {
  readonly type: ResourceType;
  readonly #cache = new Map<string, T>();
  readonly #handlers: EventHandler<T>[] = [];
  readonly #watch: Watch;
  readonly #objects: KubernetesObjectApi;
  readonly #options: InformerOptions;
  #abort: AbortController | undefined;
  #resourceVersion = '';
  #stopped = false;
  #failures = 0;
  #healthy = false;
  readonly #synced: Promise<void>;
  #markSynced: () => void = () => {};

  constructor(
    kube: KubeConfig,
    objects: KubernetesObjectApi,
    type: ResourceType,
    options: InformerOptions = {},
  ) {
    this.type = type;
    this.#watch = new Watch(kube);
    this.#objects = objects;
    this.#options = options;
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  onEvent(handler: EventHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  /** Listed and watching, with no error since: what the cache holds is current. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Resolves once the first list has filled the cache. */
  synced(): Promise<void> {
    return this.#synced;
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  #emit(type: EventType, object: T, previous?: T): void {
    for (const handler of this.#handlers) handler(type, object, previous);
  }

  async #relist(): Promise<void> {
    const { namespace, fieldSelector, labelSelector } = this.#options;
    const list = await this.#objects.list<T>(
      this.type.apiVersion,
      this.type.kind,
      namespace,
      undefined,
      undefined,
      undefined,
      fieldSelector,
      labelSelector,
    );
    const seen = new Set<string>();
    for (const item of list.items) {
      const object = slim({ ...item, apiVersion: this.type.apiVersion, kind: this.type.kind } as T);
      const key = objectKey(object);
      seen.add(key);
      const previous = this.#cache.get(key);
      this.#cache.set(key, object);
      if (previous?.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        this.#emit(previous ? 'modified' : 'added', object, previous);
      }
    }
    for (const [key, object] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emit('deleted', object);
      }
    }
    this.#resourceVersion = list.metadata?.resourceVersion ?? '';
    this.#markSynced();
  }

  /** One watch; resolves when it ends cleanly, rejects on error (GoneError for 410). */
  #watchOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      let failed: Error | undefined;
      const query: Record<string, string | boolean> = {
        allowWatchBookmarks: true,
        resourceVersion: this.#resourceVersion,
      };
      if (this.#options.fieldSelector) query['fieldSelector'] = this.#options.fieldSelector;
      if (this.#options.labelSelector) query['labelSelector'] = this.#options.labelSelector;
      this.#watch
        .watch(
          collectionPath(this.type, this.#options.namespace),
          query,
          (phase: string, received: T & { code?: number }) => {
            const object = phase === 'ERROR' || phase === 'BOOKMARK' ? received : slim(received);
            if (phase === 'BOOKMARK') {
              this.#resourceVersion = object.metadata?.resourceVersion ?? this.#resourceVersion;
              return;
            }
            if (phase === 'ERROR') {
              failed =
                object.code === 410
                  ? new GoneError('resourceVersion too old')
                  : new Error(JSON.stringify(object));
              this.#abort?.abort();
              return;
            }
            const key = objectKey(object);
            const previous = this.#cache.get(key);
            this.#resourceVersion = object.metadata?.resourceVersion ?? this.#resourceVersion;
            if (phase === 'DELETED') {
              this.#cache.delete(key);
              this.#emit('deleted', object, previous);
            } else {
              this.#cache.set(key, object);
              this.#emit(previous ? 'modified' : 'added', object, previous);
            }
          },
          (error: unknown) => {
            const cause = failed ?? (error && !this.#stopped ? (error as Error) : undefined);
            if (cause) reject(cause);
            else resolve();
          },
        )
        .then((abort) => (this.#abort = abort), reject);
    });
  }

  async #loop(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      try {
        if (needList) await this.#relist();
        needList = false;
        this.#healthy = true;
        await this.#watchOnce();
        this.#failures = 0;
      } catch (error) {
        if (this.#stopped) return;
        this.#healthy = false;
        needList = true;
        if (error instanceof GoneError) continue;
        this.#failures += 1;
        const delay = Math.min(this.#options.maxBackoffMs ?? 30_000, 100 * 2 ** Math.min(this.#failures, 10));
        this.#options.onError?.(error, delay);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }
}
