import { sidecarServiceAccountName } from '../../api/audit/v1/identity.ts';
import { CollectorError } from '../errors.ts';

export interface ServerRef {
  readonly namespace: string;
  readonly name: string;
}

const SERVICE_ACCOUNT =
  /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/;

export function serviceAccountOf(username: string): { namespace: string; name: string } | undefined {
  const match = SERVICE_ACCOUNT.exec(username);
  return match ? { namespace: match[1]!, name: match[3]! } : undefined;
}

/**
 * The binding: the token of ServiceAccount `<ns>/<server>-mcp` may carry events of McpServer `<ns>/<server>`
 * only (the operator runs each server's pods as that account). Throws identity_mismatch otherwise.
 */
export function checkBinding(
  identity: { readonly username: string },
  server: ServerRef,
  where: string,
): void {
  const account = serviceAccountOf(identity.username);
  if (account === undefined) {
    throw new CollectorError(
      'identity_mismatch',
      `${identity.username} is not a service account; only sidecars may ship events`,
    );
  }
  if (account.namespace !== server.namespace || account.name !== sidecarServiceAccountName(server.name)) {
    throw new CollectorError(
      'identity_mismatch',
      `${where}: service account ${account.namespace}/${account.name} may not carry events of server ${server.namespace}/${server.name}`,
    );
  }
}
