/** A watched resource type and where its REST collection lives. */
export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

function groupBase(type: ResourceType): string {
  return type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
}

export function collectionPath(type: ResourceType, namespace?: string): string {
  return type.namespaced && namespace
    ? `${groupBase(type)}/namespaces/${namespace}/${type.plural}`
    : `${groupBase(type)}/${type.plural}`;
}

export function objectPath(type: ResourceType, name: string, namespace?: string): string {
  return `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
}

/**
 * The watch of one object by name (`/api/v1/watch/namespaces/NAME`): deprecated in favour of a field
 * selector on the collection, but still served, and authorised like a request on that object, where a
 * cluster-scoped collection with a field selector needs cluster-wide permission.
 */
export function watchPath(type: ResourceType, name: string, namespace?: string): string {
  const scope = type.namespaced && namespace ? `namespaces/${namespace}/` : '';
  return `${groupBase(type)}/watch/${scope}${type.plural}/${encodeURIComponent(name)}`;
}

export function objectKey(object: { metadata?: { namespace?: string; name?: string } }): string {
  const { namespace, name } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : `${name}`;
}
