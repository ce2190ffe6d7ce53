import type { KubernetesObject } from '@kubernetes/client-node';
import { canonicalJson, contentHash } from '../../policy/hash.ts';
import { FIELD_MANAGER } from '../builders/names.ts';
import type { KubeClient } from '../../kube/client.ts';
import { objectPath } from '../../kube/resource.ts';
import { resourceTypeOf } from './kinds.ts';

/**
 * Server-side apply with our own field manager, written only when what we want changed since our last
 * apply (the API server would also treat an identical apply as a no-op, but skipping saves the round
 * trip on every resync of a thousand objects). What we remember per object is its digest, never the
 * object: a thousand servers' children would otherwise stay in memory twice.
 */
export const APPLIED_DIGEST = 'portcullis.dev/applied-digest';
const APPLY_PATCH = 'application/apply-patch+yaml';
const APPLY_QUERY = `fieldManager=${FIELD_MANAGER}&force=true`;

export class Applier {
  readonly #client: KubeClient;
  readonly #applied = new Map<string, string>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  static key(object: KubernetesObject): string {
    return `${object.apiVersion}/${object.kind}/${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
  }

  /** Applies when changed; returns whether a write happened. */
  async apply(object: KubernetesObject): Promise<boolean> {
    const key = Applier.key(object);
    const digest = contentHash(object);
    if (this.#applied.get(key) === digest) return false;
    const type = resourceTypeOf(object);
    const name = object.metadata?.name;
    if (type === undefined || name === undefined)
      throw new Error(
        `cannot apply ${object.apiVersion} ${object.kind} ${name ?? '(no name)'}: unknown kind`,
      );
    // The digest travels on the object, so after a restart a child we already applied is recognised
    // from the informer cache (seed) instead of being applied again.
    const annotated = {
      ...object,
      metadata: {
        ...object.metadata,
        annotations: { ...object.metadata?.annotations, [APPLIED_DIGEST]: digest },
      },
    };
    // The answer (the whole object, managedFields and all) is read and dropped: nothing here needs it.
    await this.#client.send('PATCH', `${objectPath(type, name, object.metadata?.namespace)}?${APPLY_QUERY}`, {
      body: annotated,
      contentType: APPLY_PATCH,
    });
    this.#applied.set(key, digest);
    return true;
  }

  /** Applies the status subresource of a custom resource (only the fields we own). */
  async applyStatus(
    object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    plural: string,
    status: unknown,
    /** The status the object has now (from the cache): equal means nothing to write. */
    live?: unknown,
  ): Promise<boolean> {
    const key = `status/${Applier.key(object)}`;
    const digest = contentHash(status);
    if (this.#applied.get(key) === digest) return false;
    if (live !== undefined && contentHash(live) === digest) {
      this.#applied.set(key, digest);
      return false;
    }
    const namespace = object.metadata.namespace ?? 'default';
    const path = `/apis/${object.apiVersion}/namespaces/${namespace}/${plural}/${object.metadata.name}/status?${APPLY_QUERY}`;
    const body = {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: object.metadata.name, namespace },
      status,
    };
    await this.#client.send('PATCH', path, {
      body: JSON.parse(canonicalJson(body)),
      contentType: APPLY_PATCH,
    });
    this.#applied.set(key, digest);
    return true;
  }

  /** Remembers a child applied by an earlier run, from the digest annotation on the live object. */
  seed(object: KubernetesObject): void {
    const digest = object.metadata?.annotations?.[APPLIED_DIGEST];
    const key = Applier.key(object);
    if (digest !== undefined && !this.#applied.has(key)) this.#applied.set(key, digest);
  }

  /** Forget what we applied for an owner that is gone (its children go by garbage collection). */
  forget(prefix: (key: string) => boolean): void {
    for (const key of this.#applied.keys()) if (prefix(key)) this.#applied.delete(key);
  }
}
