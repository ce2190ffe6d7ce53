import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../../kube/client.ts';

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
  client: KubeClient,
  component = 'portcullis-operator',
  clock: () => number = Date.now,
): EventRecorder {
  return {
    async record(object, type, reason, message) {
      const namespace = object.metadata.namespace ?? 'default';
      const now = new Date(clock()).toISOString();
      await client.send('POST', `/api/v1/namespaces/${namespace}/events`, {
        body: {
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
        },
      });
    },
  };
}
