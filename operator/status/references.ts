import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { OperatorSettings } from '../settings.ts';
import type { ConditionUpdate } from './conditions.ts';

/**
 * Objects of the server's namespace that its pods mount. A missing one does not fail the apply (the
 * kubelet keeps the pods waiting and starts them once it appears), so without this check nothing but
 * `kubectl describe pod` would say why a server never becomes ready.
 */
export interface ObjectReference {
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  readonly key: string;
  /** Where the reference comes from, for the message: a spec field or an operator setting. */
  readonly from: string;
}

/**
 * found: the object has the key. unknown: it could not be read (API error). unchecked: a Secret, which the
 * operator does not read (it holds no permission on Secrets, by design: see docs/DESIGN.md).
 */
export type ReferenceState = 'found' | 'missing' | 'missingKey' | 'unknown' | 'unchecked';

export interface ReferenceObservation {
  readonly reference: ObjectReference;
  readonly state: ReferenceState;
}

/** Every ConfigMap and Secret key the server's pods mount, in a stable order. Pure. */
export function referencedObjects(server: McpServer, settings: OperatorSettings): ObjectReference[] {
  const refs: ObjectReference[] = [];
  const own = server.spec.auth.caBundle;
  if (own?.configMapKeyRef)
    refs.push({ kind: 'ConfigMap', ...own.configMapKeyRef, from: 'spec.auth.caBundle.configMapKeyRef' });
  if (own?.secretKeyRef)
    refs.push({ kind: 'Secret', ...own.secretKeyRef, from: 'spec.auth.caBundle.secretKeyRef' });
  const fallback = own ? undefined : settings.identityProviderCa;
  if (fallback?.configMapKeyRef)
    refs.push({
      kind: 'ConfigMap',
      ...fallback.configMapKeyRef,
      from: 'operator setting identityProviderCa.configMapKeyRef',
    });
  if (fallback?.secretKeyRef)
    refs.push({
      kind: 'Secret',
      ...fallback.secretKeyRef,
      from: 'operator setting identityProviderCa.secretKeyRef',
    });
  const { upstreamAuth } = server.spec;
  if (upstreamAuth.mode === 'Minted' && upstreamAuth.minted)
    refs.push({
      kind: 'Secret',
      ...upstreamAuth.minted.signingKeySecretRef,
      from: 'spec.upstreamAuth.minted.signingKeySecretRef',
    });
  if (upstreamAuth.mode === 'TokenExchange' && upstreamAuth.tokenExchange)
    refs.push({
      kind: 'Secret',
      ...upstreamAuth.tokenExchange.clientSecretRef,
      from: 'spec.upstreamAuth.tokenExchange.clientSecretRef',
    });
  return refs;
}

/** Whether a ConfigMap or Secret as read from the API holds the key (data or binaryData). */
export function hasKey(
  object: { data?: Record<string, unknown>; binaryData?: Record<string, unknown> },
  key: string,
) {
  return Object.hasOwn(object.data ?? {}, key) || Object.hasOwn(object.binaryData ?? {}, key);
}

/**
 * For WorkloadReady while pods are not ready: the Secrets the pods mount that the operator could not check,
 * since a missing one keeps them in ContainerCreating with nothing else to say why.
 */
export function uncheckedSecretsHint(
  observations: readonly ReferenceObservation[],
  namespace: string,
): string | undefined {
  const secrets = observations.filter((o) => o.state === 'unchecked').map((o) => o.reference);
  if (secrets.length === 0) return undefined;
  const names = secrets.map((r) => `${namespace}/${r.name} (key ${r.key}, ${r.from})`).join(', ');
  return `pods mount Secret ${names}, which the operator does not read: if pods wait in ContainerCreating, check that it exists (kubectl describe pod shows FailedMount)`;
}

function describe(observation: ReferenceObservation, namespace: string): string {
  const { reference: r, state } = observation;
  const what = `${r.kind} ${namespace}/${r.name}`;
  if (state === 'missing') return `${what} (${r.from}) does not exist`;
  if (state === 'missingKey') return `${what} (${r.from}) has no key ${r.key}`;
  return `${what} (${r.from}) could not be read`;
}

/**
 * ReferencesResolved: False while a referenced ConfigMap or its key is missing (the pods cannot start:
 * the kubelet waits for it), Unknown when one could not be read, True otherwise (also with no references,
 * or only Secrets, which are not checked).
 */
export function referencesCondition(
  observations: readonly ReferenceObservation[],
  namespace: string,
): ConditionUpdate {
  const missing = observations.filter((o) => o.state === 'missing' || o.state === 'missingKey');
  if (missing.length > 0)
    return {
      type: 'ReferencesResolved',
      status: 'False',
      reason: 'MissingReference',
      message: `${missing.map((o) => describe(o, namespace)).join('; ')}: pods that mount it wait until it exists`,
    };
  const unknown = observations.filter((o) => o.state === 'unknown');
  if (unknown.length > 0)
    return {
      type: 'ReferencesResolved',
      status: 'Unknown',
      reason: 'ReferenceNotChecked',
      message: unknown.map((o) => describe(o, namespace)).join('; '),
    };
  const checked = observations.filter((o) => o.state === 'found').length;
  const unchecked = observations.length - checked;
  return {
    type: 'ReferencesResolved',
    status: 'True',
    reason: 'Resolved',
    message:
      observations.length === 0
        ? 'no ConfigMap or Secret is referenced'
        : `${checked} referenced ConfigMap key(s) exist` +
          (unchecked > 0 ? `; ${unchecked} Secret key(s) not checked (the operator reads no Secrets)` : ''),
  };
}
