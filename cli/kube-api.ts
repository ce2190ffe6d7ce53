import type { KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v1alpha1/group.ts';
import { ApiError, kubeRequest } from '../kube/rest.ts';
import { failure } from './errors.ts';

/** What a command does to one kind of object, for paths and for error messages that name the grant. */
export interface ResourceKind {
  /** As people and kubectl write it: mcpserver, toolpolicy, namespace. */
  readonly label: string;
  readonly plural: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
}

export interface ObjectRef {
  readonly kind: ResourceKind;
  readonly name?: string;
  /** For namespaced kinds; undefined lists across all namespaces. */
  readonly namespace?: string;
}

/** The few API calls the people-facing commands make; tests may wrap it to interleave other writers. */
export interface KubeApi {
  /** https://host:port of the API server, for messages. */
  readonly server: string;
  get(ref: ObjectRef): Promise<unknown>;
  mergePatch(ref: ObjectRef, patch: unknown): Promise<unknown>;
  /** The authenticated user name (SelfSubjectReview), or undefined when the server will not say. */
  whoAmI(): Promise<string | undefined>;
}

export function objectPath(ref: ObjectRef): string {
  const { kind } = ref;
  const base = kind.group === '' ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  const scope = kind.namespaced && ref.namespace !== undefined ? `/namespaces/${enc(ref.namespace)}` : '';
  return `${base}${scope}/${kind.plural}${ref.name === undefined ? '' : `/${enc(ref.name)}`}`;
}

const enc = (segment: string) => encodeURIComponent(segment);

/** `mcpserver finance/billing`, `namespace finance`, `mcpservers in namespace finance`. */
export function describeRef(ref: ObjectRef): string {
  if (ref.name === undefined) {
    const where = ref.namespace === undefined ? 'in any namespace' : `in namespace ${ref.namespace}`;
    return `${ref.kind.plural} ${where}`;
  }
  return ref.kind.namespaced
    ? `${ref.kind.label} ${ref.namespace ?? 'default'}/${ref.name}`
    : `${ref.kind.label} ${ref.name}`;
}

export function kubeApi(kube: KubeConfig): KubeApi {
  const server = kube.getCurrentCluster()?.server ?? '(no server in the kubeconfig)';
  const call = async (what: () => Promise<unknown>) => {
    try {
      return await what();
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw failure(`cannot reach the API server at ${server}: ${(error as Error).message}`, error);
    }
  };
  return {
    server,
    get: (ref) => call(() => kubeRequest(kube, 'GET', objectPath(ref))),
    mergePatch: (ref, patch) =>
      call(() => kubeRequest(kube, 'PATCH', objectPath(ref), patch, 'application/merge-patch+json')),
    async whoAmI() {
      try {
        const review = (await kubeRequest(kube, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'SelfSubjectReview',
        })) as { status?: { userInfo?: { username?: string } } } | undefined;
        return review?.status?.userInfo?.username || undefined;
      } catch {
        return undefined; // older servers, or the API disabled: the reason goes unsigned
      }
    },
  };
}

/**
 * An API error as one line that names the object and what to do: a 403 names the verb and resource the
 * caller lacks, a 404 how to look for the object, a 401 that the credentials were refused.
 */
export function apiFailure(error: unknown, ref: ObjectRef, verb: string): Error {
  if (!(error instanceof ApiError)) return error as Error;
  const what = describeRef(ref);
  const grant = `${verb} on ${ref.kind.plural}${ref.kind.group === '' ? '' : ` (group ${ref.kind.group})`}${
    ref.kind.namespaced
      ? ref.namespace === undefined
        ? ' cluster-wide'
        : ` in namespace ${ref.namespace}`
      : ''
  }`;
  switch (error.status) {
    case 401:
      return failure(
        `${what}: the API server did not accept the kubeconfig's credentials (401 Unauthorized); log in again or pick another --context`,
        error,
      );
    case 403:
      return failure(`${what}: forbidden: this needs ${grant} (${error.message})`, error);
    case 404:
      return failure(
        ref.name === undefined
          ? `${what}: the API server does not serve ${ref.kind.plural}; are the Portcullis CRDs installed? (kubectl apply -f crds/)`
          : `${what} not found${ref.kind.namespaced ? ` (kubectl get ${ref.kind.plural} -n ${ref.namespace ?? 'default'})` : ''}`,
        error,
      );
    default:
      return failure(`${what}: ${verb} failed: ${error.message} (HTTP ${error.status})`, error);
  }
}

/** The HTTP status of an API error, else undefined. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof ApiError ? error.status : undefined;
}

export const MCP_SERVERS: ResourceKind = {
  label: 'mcpserver',
  plural: 'mcpservers',
  group: GROUP,
  version: VERSION,
  namespaced: true,
};
export const TOOL_POLICIES: ResourceKind = {
  label: 'toolpolicy',
  plural: 'toolpolicies',
  group: GROUP,
  version: VERSION,
  namespaced: true,
};
export const NAMESPACES: ResourceKind = {
  label: 'namespace',
  plural: 'namespaces',
  group: '',
  version: 'v1',
  namespaced: false,
};
