import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { KubeCredentials, TlsMaterial } from './credentials.ts';
import { tokenFileHeaders } from './token-file.ts';

/**
 * A kubeconfig file whose chosen user is a token, a token file or a client certificate, read without
 * @kubernetes/client-node (lean-credentials.ts says why). Its own module, imported only when there is a
 * kubeconfig to read: a pod's ServiceAccount needs no YAML parser (~3.5 MiB of the sidecar at rest), and a
 * module that imports it statically is what the bundle can split off (a dynamic import of the CommonJS
 * package itself would, once bundled, offer only its default export).
 */
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

export function fromKubeconfigFile(
  path: string,
  context: string | undefined,
  clock: () => number,
): KubeCredentials | undefined {
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
