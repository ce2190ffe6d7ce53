import { readFile } from 'node:fs/promises';

/** As client-go: a token file is re-read at most once a minute (the kubelet rotates it well before expiry). */
const TOKEN_FILE_TTL_MS = 60_000;

/** The bearer token in `path` (a pod's projected ServiceAccount token, a kubeconfig's tokenFile), as headers. */
export function tokenFileHeaders(path: string, clock: () => number): () => Promise<Record<string, string>> {
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
