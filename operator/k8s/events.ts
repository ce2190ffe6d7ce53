import type { KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { kubeRequest } from '../../kube/rest.ts';

/** Kubernetes Events on the objects we manage: what `kubectl describe` shows a person. */
export interface EventRecorder {
  record(
    object: {
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace?: string; uid?: string };
    },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void>;
}

export function eventRecorder(
  kube: KubeConfig,
  component = 'portcullis-operator',
  clock: () => number = Date.now,
): EventRecorder {
  return {
    async record(object, type, reason, message) {
      const namespace = object.metadata.namespace ?? 'default';
      const now = new Date(clock()).toISOString();
      await kubeRequest(kube, 'POST', `/api/v1/namespaces/${namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${object.metadata.name}.${randomBytes(6).toString('hex')}`, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.metadata.name,
          namespace,
          ...(object.metadata.uid ? { uid: object.metadata.uid } : {}),
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    },
  };
}
