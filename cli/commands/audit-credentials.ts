import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { CliError } from '../errors.ts';
import { contextNamespace, loadKubeconfig, tryLoadKubeconfig } from '../kubeconfig.ts';
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

/** The shared kubeconfig loader, its failures as AuditErrors (exit 1) with the token hint. */
function loadKubeConfig(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig {
  try {
    return loadKubeconfig(credentials, env, `: no token given either; ${CREATE_TOKEN_HINT}`);
  } catch (error) {
    if (error instanceof CliError) throw failure(error.message, error.cause);
    throw error;
  }
}

function tryLoadKubeConfig(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig | undefined {
  return tryLoadKubeconfig(credentials, env);
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
