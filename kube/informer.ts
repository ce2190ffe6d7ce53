import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeClient, type WatchEvent } from './client.ts';
import type { KubeSource } from './credentials.ts';
import { collectionPath, objectKey, objectPath, watchPath, type ResourceType } from './resource.ts';

/**
 * List, then watch from the list's resourceVersion, forever. A watch that ends cleanly (its server-side
 * timeout, a proxy) is resumed at once from the last seen resourceVersion, which bookmarks keep fresh on
 * quiet resources; 410 Gone means that version was compacted away, so it relists. Errors back off
 * exponentially (capped) and relist. On relist the cache is replaced, and handlers see the deletions
 * that happened while disconnected.
 */
export type EventType = 'added' | 'modified' | 'deleted';
export type EventHandler<T> = (type: EventType, object: T, previous?: T) => void;

/** What readers of a cache need: one informer, or several of one kind (one per watched namespace). */
export interface ObjectCache<T> {
  get(key: string): T | undefined;
  list(): T[];
}

export interface Watcher<T> extends ObjectCache<T> {
  readonly healthy: boolean;
  onEvent(handler: EventHandler<T>): void;
  synced(): Promise<void>;
  start(): void;
  stop(): void;
}

export interface InformerOptions<T> {
  readonly namespace?: string;
  /**
   * One object by name: read with GET and watched on its own `/watch/…/NAME` path, which RBAC scopes
   * like the object itself. A Role in namespace N may grant it for the Namespace N, where a
   * `metadata.name` field selector on the collection needs a ClusterRole.
   */
  readonly name?: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  /**
   * Metadata only (PartialObjectMetadata): the API server sends no spec, status or data, so neither
   * the wire nor the cache carries what nobody reads (a policy bundle ConfigMap, a Deployment's pod
   * template).
   */
  readonly metadataOnly?: boolean;
  /**
   * Applied to every object on its way into the cache (after metadata.managedFields is dropped): keep
   * only what readers need, as controller-runtime's cache transforms do.
   */
  readonly transform?: (object: T) => T;
  readonly onError?: (error: unknown, retryInMs: number) => void;
  readonly maxBackoffMs?: number;
  /** Objects per list page (the API server's continue tokens page the rest). */
  readonly pageSize?: number;
}

class GoneError extends Error {}

export const METADATA_LIST =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_ONE = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/**
 * Cached objects without metadata.managedFields: the field-ownership history is often larger than the
 * object itself, and nothing reading the cache needs it (a thousand cached servers hold it in memory).
 */
function slim<T extends KubernetesObject>(object: T): T {
  if (object.metadata?.managedFields === undefined) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}

interface ObjectList<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export class Informer<T extends KubernetesObject> implements Watcher<T> {
  readonly type: ResourceType;
  readonly #cache = new Map<string, T>();
  readonly #handlers: EventHandler<T>[] = [];
  readonly #client: KubeClient;
  readonly #options: InformerOptions<T>;
  #abort: AbortController | undefined;
  #resourceVersion = '';
  #stopped = false;
  #failures = 0;
  #healthy = false;
  readonly #synced: Promise<void>;
  #markSynced: () => void = () => {};

  constructor(kube: KubeSource | KubeClient, type: ResourceType, options: InformerOptions<T> = {}) {
    this.type = type;
    this.#options = options;
    this.#client = kube instanceof KubeClient ? kube : KubeClient.for(kube);
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

  /** The object as the cache keeps it: typed, without managedFields, transformed. */
  #admit(object: T): T {
    const typed = { ...object, apiVersion: this.type.apiVersion, kind: this.type.kind };
    const slimmed = slim(typed);
    return this.#options.transform ? this.#options.transform(slimmed) : slimmed;
  }

  #selectors(): Record<string, string> {
    const { fieldSelector, labelSelector } = this.#options;
    return {
      ...(fieldSelector ? { fieldSelector } : {}),
      ...(labelSelector ? { labelSelector } : {}),
    };
  }

  async #listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const { namespace, name, metadataOnly } = this.#options;
    if (name !== undefined) {
      const path = objectPath(this.type, name, namespace);
      try {
        const object = await this.#client.request<T>('GET', path, {
          ...(metadataOnly ? { accept: METADATA_ONE } : {}),
        });
        return { items: [this.#admit(object)], resourceVersion: object.metadata?.resourceVersion ?? '' };
      } catch (error) {
        // Not there (yet): a watch from "now" reports it once it is created.
        if ((error as { status?: number }).status === 404) return { items: [], resourceVersion: '' };
        throw error;
      }
    }
    const items: T[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    // Bounded: each page is a continue token the API server handed out; a run of pages ends with none.
    for (let page = 0; page < 100_000; page++) {
      const query = new URLSearchParams({
        ...this.#selectors(),
        limit: String(this.#options.pageSize ?? 500),
        ...(next ? { continue: next } : {}),
      });
      const list = await this.#client.request<ObjectList<T>>(
        'GET',
        `${collectionPath(this.type, namespace)}?${query}`,
        metadataOnly ? { accept: METADATA_LIST } : {},
      );
      for (const item of list.items ?? []) items.push(this.#admit(item));
      if (page === 0) resourceVersion = list.metadata?.resourceVersion ?? '';
      next = list.metadata?.continue || undefined;
      if (next === undefined) break;
    }
    return { items, resourceVersion };
  }

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#listAll();
    const seen = new Set<string>();
    for (const object of items) {
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
    this.#resourceVersion = resourceVersion;
    this.#markSynced();
  }

  #onWatchEvent(event: WatchEvent): void {
    const received = event.object as unknown as T & { code?: number };
    if (event.type === 'BOOKMARK') {
      this.#resourceVersion = received.metadata?.resourceVersion ?? this.#resourceVersion;
      return;
    }
    if (event.type === 'ERROR') {
      throw received.code === 410
        ? new GoneError('resourceVersion too old')
        : new Error(JSON.stringify(received));
    }
    const object = this.#admit(received);
    const key = objectKey(object);
    const previous = this.#cache.get(key);
    this.#resourceVersion = object.metadata?.resourceVersion ?? this.#resourceVersion;
    if (event.type === 'DELETED') {
      this.#cache.delete(key);
      this.#emit('deleted', object, previous);
    } else {
      this.#cache.set(key, object);
      this.#emit(previous ? 'modified' : 'added', object, previous);
    }
  }

  /** One watch; resolves when the server ends it, rejects on error (GoneError for 410). */
  async #watchOnce(): Promise<void> {
    const { namespace, name, metadataOnly } = this.#options;
    // As client-go: the server ends each watch after 5 to 10 minutes (spread, so that many informers do
    // not reconnect together); silence well past that means the connection is dead.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const query = new URLSearchParams({
      ...(name === undefined ? { watch: '1', ...this.#selectors() } : {}),
      allowWatchBookmarks: 'true',
      resourceVersion: this.#resourceVersion,
      timeoutSeconds: String(timeoutSeconds),
    });
    const path =
      name === undefined ? collectionPath(this.type, namespace) : watchPath(this.type, name, namespace);
    this.#abort = new AbortController();
    if (this.#stopped) return;
    await this.#client.watch(
      `${path}?${query}`,
      {
        signal: this.#abort.signal,
        idleTimeoutMs: (timeoutSeconds + 60) * 1000,
        ...(metadataOnly ? { accept: METADATA_ONE } : {}),
      },
      (event) => this.#onWatchEvent(event),
    );
  }

  async #loop(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      try {
        if (needList) await this.#relist();
        needList = false;
        this.#healthy = true;
        const began = Date.now();
        await this.#watchOnce();
        this.#failures = 0;
        // A watch the server ends at once, again and again (a misbehaving proxy), must not spin.
        if (Date.now() - began < 1000) await new Promise((resolve) => setTimeout(resolve, 1000).unref());
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
