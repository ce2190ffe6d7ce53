import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { KubeCredentials, TlsMaterial } from './credentials.ts';

/**
 * Where the API server is and what to show it, for the cases a long-running in-cluster component meets:
 * the pod's ServiceAccount (token file re-read as the kubelet rotates it, the cluster CA), or a
 * kubeconfig whose user is a token, a token file or a client certificate. Loading
 * @kubernetes/client-node's KubeConfig costs a process about 55 MiB of memory (its generated API
 * models come with it), which is a fifth of the operator's budget; anything beyond these cases (exec
 * plugins, auth providers, basic auth, proxies, a $KUBECONFIG list) returns undefined here, and the
 * caller falls back to the KubeConfig (loadKubeSource in load-source.ts does both).
 *
 * The YAML parser is imported only to read a kubeconfig file: in a pod (the ServiceAccount) neither the
 * operator nor the sidecar needs it, and it costs the sidecar ~3.5 MiB at rest (issue #14).
 */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** As client-go: a token file is re-read at most once a minute (the kubelet rotates it well before expiry). */
const TOKEN_FILE_TTL_MS = 60_000;

export interface LoadOptions {
  /** --kubeconfig; else $KUBECONFIG, ~/.kube/config, then the pod's ServiceAccount (client-node's order). */
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the ServiceAccount's files are (tests). */
  readonly serviceAccountDir?: string;
  /** When a token file is due to be read again (tests). */
  readonly clock?: () => number;
}

/** Lean credentials, or undefined when the configuration needs the full KubeConfig. */
export async function loadKubeCredentials(options: LoadOptions): Promise<KubeCredentials | undefined> {
  const { env } = options;
  const clock = options.clock ?? Date.now;
  const list = env['KUBECONFIG'];
  if (options.kubeconfig === undefined && list !== undefined && list !== '') {
    // A list of files is merged by kubectl's rules: the KubeConfig does that.
    return list.includes(':') ? undefined : fromKubeconfigFile(list, options.context, clock);
  }
  const home = env['HOME'] ? join(env['HOME'], '.kube', 'config') : undefined;
  const path = options.kubeconfig ?? (home !== undefined && existsSync(home) ? home : undefined);
  if (path !== undefined) return fromKubeconfigFile(path, options.context, clock);
  return inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, clock);
}

function inCluster(
  env: Readonly<Record<string, string | undefined>>,
  dir: string,
  clock: () => number,
): KubeCredentials | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port || !existsSync(join(dir, 'token'))) return undefined;
  // Plain HTTP on these ports is a local proxy (client-node's rule): the KubeConfig handles that.
  if (['80', '8080', '8001'].includes(port)) return undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(dir, 'ca.crt')) },
    headers: tokenFileHeaders(join(dir, 'token'), clock),
  };
}

function tokenFileHeaders(path: string, clock: () => number): () => Promise<Record<string, string>> {
  let cached: { headers: Record<string, string>; until: number } | undefined;
  return async () => {
    const now = clock();
    if (cached === undefined || cached.until <= now) {
      const token = (await readFile(path, 'utf8')).trim();
      cached = { headers: { authorization: `Bearer ${token}` }, until: now + TOKEN_FILE_TTL_MS };
    }
    return cached.headers;
  };
}

// Only the fields handled here; any other field of the chosen cluster or user means "not lean".
const clusterFields = z.strictObject({
  server: z.string().min(1),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  extensions: z.unknown().optional(),
});
const userFields = z.strictObject({
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  extensions: z.unknown().optional(),
});
const kubeconfigFile = z.object({
  'current-context': z.string().optional(),
  contexts: z
    .array(
      z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) }),
    )
    .default([]),
  clusters: z.array(z.object({ name: z.string(), cluster: z.unknown() })).default([]),
  users: z.array(z.object({ name: z.string(), user: z.unknown() })).default([]),
});

async function fromKubeconfigFile(
  path: string,
  context: string | undefined,
  clock: () => number,
): Promise<KubeCredentials | undefined> {
  const { parse: parseYaml } = await import('yaml');
  const file = kubeconfigFile.safeParse(parseYaml(readFileSync(path, 'utf8')));
  if (!file.success) return undefined;
  const { contexts, clusters, users } = file.data;
  const chosen = contexts.find((c) => c.name === (context ?? file.data['current-context']))?.context;
  if (chosen === undefined) return undefined;
  const cluster = clusterFields.safeParse(clusters.find((c) => c.name === chosen.cluster)?.cluster);
  const user = userFields.safeParse(
    chosen.user === undefined ? {} : (users.find((u) => u.name === chosen.user)?.user ?? {}),
  );
  if (!cluster.success || !user.success) return undefined;
  const c = cluster.data;
  const u = user.data;
  const base = dirname(path);
  const fileOrData = (file: string | undefined, data: string | undefined): Buffer | undefined => {
    if (data !== undefined) return Buffer.from(data, 'base64');
    if (file !== undefined) return readFileSync(isAbsolute(file) ? file : join(base, file));
    return undefined;
  };
  const ca = fileOrData(c['certificate-authority'], c['certificate-authority-data']);
  const cert = fileOrData(u['client-certificate'], u['client-certificate-data']);
  const key = fileOrData(u['client-key'], u['client-key-data']);
  const tls: TlsMaterial = {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(c['insecure-skip-tls-verify'] ? { rejectUnauthorized: false } : {}),
    ...(c['tls-server-name'] ? { servername: c['tls-server-name'] } : {}),
  };
  const tokenFile = u.tokenFile;
  const staticHeaders: Record<string, string> = u.token ? { authorization: `Bearer ${u.token}` } : {};
  return {
    server: c.server,
    tls,
    headers:
      u.token === undefined && tokenFile !== undefined
        ? tokenFileHeaders(isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile), clock)
        : async () => staticHeaders,
  };
}
