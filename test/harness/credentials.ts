import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderKubeconfig } from './kubeconfig.ts';
import { createPki, type ControlPlanePki } from './pki.ts';
import { createTokenUsers, renderTokenAuthFile, type TokenUser } from './static-tokens.ts';

/** Everything secret a control plane and its clients need, written below its data directory. */
export interface ControlPlaneCredentials {
  readonly pki: ControlPlanePki;
  readonly caPem: string;
  readonly admin: TokenUser;
  readonly unprivileged: TokenUser;
  /** For kube-apiserver's --token-auth-file. */
  readonly tokenAuthFile: string;
  /** Contexts for both users; the admin's is current. */
  readonly kubeconfigPath: string;
  readonly adminKubeconfigPath: string;
  readonly userKubeconfigPath: string;
}

export interface CredentialOptions {
  /** The API server certificate's names; 127.0.0.1 and localhost by default. */
  readonly sans?: readonly string[];
  /** More token users (node components), written into the token file only. */
  readonly extraUsers?: readonly TokenUser[];
}

export async function writeCredentials(
  dataDir: string,
  serverUrl: string,
  options: CredentialOptions = {},
): Promise<ControlPlaneCredentials> {
  const pkiDir = join(dataDir, 'pki');
  mkdirSync(pkiDir, { mode: 0o700 });
  const pki = await createPki(pkiDir, options.sans);
  const caPem = readFileSync(pki.caCertFile, 'utf8');
  const { admin, unprivileged } = createTokenUsers();

  const paths = {
    tokenAuthFile: join(dataDir, 'tokens.csv'),
    kubeconfigPath: join(dataDir, 'kubeconfig'),
    adminKubeconfigPath: join(dataDir, `${admin.name}.kubeconfig`),
    userKubeconfigPath: join(dataDir, `${unprivileged.name}.kubeconfig`),
  };
  const writeSecret = (path: string, content: string): void => writeFileSync(path, content, { mode: 0o600 });
  writeSecret(paths.tokenAuthFile, renderTokenAuthFile([admin, unprivileged, ...(options.extraUsers ?? [])]));
  writeSecret(paths.kubeconfigPath, renderKubeconfig(serverUrl, caPem, [admin, unprivileged]));
  writeSecret(paths.adminKubeconfigPath, renderKubeconfig(serverUrl, caPem, [admin]));
  writeSecret(paths.userKubeconfigPath, renderKubeconfig(serverUrl, caPem, [unprivileged]));
  return { pki, caPem, admin, unprivileged, ...paths };
}
