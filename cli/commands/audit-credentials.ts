import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { CliError } from '../errors.ts';
import { contextNamespace, loadKubeconfig } from '../kubeconfig.ts';
import { failure } from './audit-errors.ts';
import type { AuditOptions } from './audit-flags.ts';

/**
 * Who the collector is asked as, and which namespace is queried (undefined: every namespace, -A). No
 * token is a valid answer: a collector run with --query-auth none needs none, and one that needs a token
 * answers 401, which `noToken` then explains.
 */
export interface AuditAccess {
  readonly token?: string;
  /** Why no token was found, when none was: for the error a collector that wants one leads to. */
  readonly noToken?: string;
  readonly namespace: string | undefined;
}

export const CREATE_TOKEN_HINT =
  "the collector takes a Kubernetes bearer token: pass --token-file or PORTCULLIS_TOKEN, e.g. from 'kubectl create token <serviceaccount> -n <namespace>'";

/**
 * The bearer token and the namespace, as kubectl would find them: a token from --token, --token-file or
 * PORTCULLIS_TOKEN wins; otherwise the current kubeconfig user's (a static token, a token file, or an exec
 * or auth-provider plugin's). The kubeconfig also supplies the default namespace; it is read from
 * --kubeconfig, else $KUBECONFIG (a list), else ~/.kube/config, through `env`, never the process's.
 *
 * Only what the caller named must work: an unreadable --token-file, or a --kubeconfig or --context that
 * does not load, fails. A kubeconfig found by default that is missing, or whose user has no bearer
 * token (a client certificate, a failing exec plugin), means asking without a token.
 */
export async function resolveAccess(
  options: Pick<AuditOptions, 'credentials' | 'namespace'>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<AuditAccess> {
  const { credentials } = options;
  const explicitToken = credentials.token ?? (credentials.tokenFile && readTokenFile(credentials.tokenFile));
  const named = credentials.kubeconfig !== undefined || credentials.context !== undefined;
  const wantNamespace = options.namespace.kind === 'default';
  // With a token of its own the command reads the kubeconfig only for the default namespace.
  const { kube, why } =
    named && (explicitToken === undefined || wantNamespace)
      ? { kube: loadKubeConfig(credentials, env), why: undefined }
      : explicitToken === undefined || wantNamespace
        ? softKubeConfig(credentials, env)
        : { kube: undefined, why: undefined };
  const found: { token?: string; noToken?: string } =
    explicitToken !== undefined
      ? { token: explicitToken }
      : kube === undefined
        ? { noToken: `no token given, and ${why}` }
        : await kubeconfigToken(kube);
  const namespace =
    options.namespace.kind === 'all'
      ? undefined
      : options.namespace.kind === 'named'
        ? options.namespace.name
        : (kube && contextNamespace(kube)) || 'default';
  return { ...found, namespace };
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

/** A kubeconfig the caller named: its failures are AuditErrors (exit 1) with the token hint. */
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

/** A kubeconfig found by default, or why there is none to use (missing, unreadable). */
function softKubeConfig(
  credentials: AuditOptions['credentials'],
  env: Readonly<Record<string, string | undefined>>,
): { kube: KubeConfig | undefined; why: string | undefined } {
  try {
    return { kube: loadKubeconfig(credentials, env), why: undefined };
  } catch (error) {
    return { kube: undefined, why: (error as Error).message };
  }
}

/** The current user's bearer token, or why there is none (never an error: see resolveAccess). */
async function kubeconfigToken(kube: KubeConfig): Promise<{ token?: string; noToken?: string }> {
  const user = kube.getCurrentUser();
  if (user === null) return { noToken: "the kubeconfig's current context names no user" };
  const options: RequestOptions = {};
  try {
    // The client's own machinery: static token, token file, exec and auth-provider plugins alike.
    await kube.applyToHTTPSOptions(options);
  } catch (error) {
    return { noToken: `cannot get a token for kubeconfig user ${user.name}: ${(error as Error).message}` };
  }
  // The client sets a plain object of headers (an array form is for raw http requests).
  const headers = (options.headers ?? {}) as Record<string, unknown>;
  const header = headers['Authorization'] ?? headers['authorization'];
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (match?.[1]) return { token: match[1] };
  const how =
    user.certData || user.certFile
      ? 'authenticates with a client certificate'
      : user.username
        ? 'authenticates with a username and password'
        : 'has no bearer token';
  return { noToken: `kubeconfig user ${user.name} ${how}` };
}
