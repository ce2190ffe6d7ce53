import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { failure } from './audit-errors.ts';
import type { AuditOptions } from './audit-flags.ts';

/** Who the collector is asked as, and which namespace is queried (undefined: every namespace, -A). */
export interface AuditAccess {
  readonly token: string;
  readonly namespace: string | undefined;
}

const CREATE_TOKEN_HINT =
  "the collector takes a Kubernetes bearer token: pass --token-file or PORTCULLIS_TOKEN, e.g. from 'kubectl create token <serviceaccount> -n <namespace>'";

/**
 * The bearer token and the namespace, as kubectl would find them: a token from --token, --token-file or
 * PORTCULLIS_TOKEN wins; otherwise the current kubeconfig user's (a static token, a token file, or an exec
 * or auth-provider plugin's). The kubeconfig also supplies the default namespace; it is read from
 * --kubeconfig, else $KUBECONFIG (a list), else ~/.kube/config, through `env`, never the process's.
 */
export async function resolveAccess(
  options: Pick<AuditOptions, 'credentials' | 'namespace'>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<AuditAccess> {
  const { credentials } = options;
  const explicitToken = credentials.token ?? (credentials.tokenFile && readTokenFile(credentials.tokenFile));
  const wantNamespace = options.namespace.kind === 'default';
  // With a token of its own the command reads the kubeconfig only for the default namespace, and then a
  // kubeconfig nobody named may be missing or broken without harm.
  const named = credentials.kubeconfig !== undefined || credentials.context !== undefined;
  const kube =
    explicitToken === undefined || (wantNamespace && named)
      ? loadKubeConfig(credentials, env)
      : wantNamespace
        ? tryLoadKubeConfig(credentials, env)
        : undefined;
  const token = explicitToken ?? (await kubeconfigToken(kube ?? loadKubeConfig(credentials, env)));
  const namespace =
    options.namespace.kind === 'all'
      ? undefined
      : options.namespace.kind === 'named'
        ? options.namespace.name
        : (kube && contextNamespace(kube)) || 'default';
  return { token, namespace };
}

function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw failure(`cannot read --token-file ${path}: ${(error as Error).message}`, error);
  }
  const token = text.trim();
  if (token === '') throw failure(`--token-file ${path} is empty`);
  return token;
}

function kubeconfigPaths(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  if (credentials.kubeconfig !== undefined) return [credentials.kubeconfig];
  const list = env['KUBECONFIG'];
  // kubectl skips files of a $KUBECONFIG list that do not exist.
  if (list) return list.split(delimiter).filter((path) => path !== '' && existsSync(path));
  const home = env['HOME'];
  const path = home ? join(home, '.kube', 'config') : undefined;
  return path !== undefined && existsSync(path) ? [path] : [];
}

function loadKubeConfig(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig {
  const paths = kubeconfigPaths(credentials, env);
  if (paths.length === 0) {
    throw failure(
      `no credentials: no token given and no kubeconfig found ($KUBECONFIG, ~/.kube/config); ${CREATE_TOKEN_HINT}`,
    );
  }
  const kube = new KubeConfig();
  try {
    for (const [index, path] of paths.entries()) {
      if (index === 0) kube.loadFromFile(path);
      else mergeFirstWins(kube, path);
    }
  } catch (error) {
    throw failure(`cannot load kubeconfig ${paths.join(delimiter)}: ${(error as Error).message}`, error);
  }
  if (credentials.context !== undefined) {
    if (kube.getContextObject(credentials.context) === null) {
      throw failure(
        `context ${JSON.stringify(credentials.context)} is not in kubeconfig ${paths.join(delimiter)}`,
      );
    }
    kube.setCurrentContext(credentials.context);
  }
  return kube;
}

/**
 * Merges a further $KUBECONFIG file the way kubectl does: the first file to define a name or the current
 * context wins. (client-node's mergeConfig refuses duplicate names instead.)
 */
function mergeFirstWins(kube: KubeConfig, path: string): void {
  const more = new KubeConfig();
  more.loadFromFile(path);
  for (const cluster of more.clusters) if (kube.getCluster(cluster.name) === null) kube.addCluster(cluster);
  for (const user of more.users) if (kube.getUser(user.name) === null) kube.addUser(user);
  for (const context of more.contexts) {
    if (kube.getContextObject(context.name) === null) kube.addContext(context);
  }
  if (!kube.getCurrentContext()) kube.setCurrentContext(more.getCurrentContext());
}

function tryLoadKubeConfig(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig | undefined {
  try {
    return loadKubeConfig(credentials, env);
  } catch {
    return undefined;
  }
}

function contextNamespace(kube: KubeConfig): string | undefined {
  return kube.getContextObject(kube.getCurrentContext())?.namespace || undefined;
}

async function kubeconfigToken(kube: KubeConfig): Promise<string> {
  const user = kube.getCurrentUser();
  if (user === null) {
    throw failure(`the kubeconfig's current context names no user; ${CREATE_TOKEN_HINT}`);
  }
  const options: RequestOptions = {};
  try {
    // The client's own machinery: static token, token file, exec and auth-provider plugins alike.
    await kube.applyToHTTPSOptions(options);
  } catch (error) {
    throw failure(`cannot get a token for kubeconfig user ${user.name}: ${(error as Error).message}`, error);
  }
  // The client sets a plain object of headers (an array form is for raw http requests).
  const headers = (options.headers ?? {}) as Record<string, unknown>;
  const header = headers['Authorization'] ?? headers['authorization'];
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (match?.[1]) return match[1];
  const how =
    user.certData || user.certFile
      ? 'authenticates with a client certificate'
      : user.username
        ? 'authenticates with a username and password'
        : 'has no bearer token';
  throw failure(`kubeconfig user ${user.name} ${how}, but ${CREATE_TOKEN_HINT}`);
}
