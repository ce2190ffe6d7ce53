import { sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';

/**
 * What the demo identity provider and its clients agree on. The agents' redirect URI is never called:
 * the sign-in reads the authorization code from the redirect itself, as a native app's loopback
 * listener would receive it.
 */
export const REDIRECT_URI = 'http://127.0.0.1/callback';

/** The resource indicator a sidecar's collector credentials are requested for (audience portcullis-collector). */
export const COLLECTOR_RESOURCE = 'urn:portcullis:collector';

/** A sidecar's audit credentials are issued to a client named like the ServiceAccount it stands in for. */
export function serviceAccountClientId(server: {
  readonly namespace: string;
  readonly name: string;
}): string {
  return `system:serviceaccount:${server.namespace}:${sidecarServiceAccountName(server.name)}`;
}

export function serviceAccountClientSecret(clientId: string): string {
  return `demo-only-secret-${clientId}`;
}
