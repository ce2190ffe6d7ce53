import type { KubeConfig } from '@kubernetes/client-node';

/**
 * Where the API server is and what to show it. Two readers: loadKubeCredentials (lean-credentials.ts) for the
 * cases a long-running in-cluster component meets, without @kubernetes/client-node, and credentialsOf (below)
 * through a KubeConfig for everything else; loadKubeSource (load-source.ts) chooses. This file imports
 * neither client-node (types only) nor YAML: the kube client loads it in every process.
 */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface KubeCredentials {
  readonly server: string;
  readonly tls: TlsMaterial;
  /** Headers for the next request (the bearer token, re-read from its file when that is where it lives). */
  headers(): Promise<Record<string, string>>;
}

/** What a KubeClient (and so an Informer) connects with: lean credentials or a full KubeConfig. */
export type KubeSource = KubeConfig | KubeCredentials;

/** How long headers from a KubeConfig are reused: its token files are re-read at most every minute anyway. */
const KUBECONFIG_HEADERS_TTL_MS = 10_000;

/**
 * The same, read from a KubeConfig (its authenticators do the work: exec plugins, OIDC, token files).
 * Headers are asked again at most every ten seconds; `stale()` forgets them (after a 401).
 */
export async function credentialsOf(kube: KubeConfig): Promise<KubeCredentials & { stale(): void }> {
  const read = async () => {
    const options: TlsMaterial & { headers?: Record<string, string>; auth?: string } = {};
    await kube.applyToHTTPSOptions(options);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (options.auth !== undefined)
      headers['authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    return { options, headers };
  };
  const first = await read();
  let cached = { headers: first.headers, until: Date.now() + KUBECONFIG_HEADERS_TTL_MS };
  const { ca, cert, key, rejectUnauthorized, servername } = first.options;
  return {
    server: kube.getCurrentCluster()?.server ?? 'https://kubernetes.default.svc',
    tls: {
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(rejectUnauthorized === false ? { rejectUnauthorized } : {}),
      ...(servername ? { servername } : {}),
    },
    async headers() {
      const now = Date.now();
      if (cached.until <= now)
        cached = { headers: (await read()).headers, until: now + KUBECONFIG_HEADERS_TTL_MS };
      return cached.headers;
    },
    stale() {
      cached.until = 0;
    },
  };
}
