import type { KubeConfig } from '@kubernetes/client-node';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { request } from 'node:https';
import { kubeRequest } from '../../kube/rest.ts';
import { CollectorError } from '../errors.ts';

/**
 * The service-account issuer's signing keys as the API server publishes them at /openid/v1/jwks, fetched
 * with the collector's own credentials (the default ClusterRole system:service-account-issuer-discovery
 * allows every service account). Refreshed every `maxAgeMs`, and at once (at most every `cooldownMs`)
 * when a token names a key not in the set, so a key rotation is picked up without a restart.
 */
export function apiServerKeys(
  kube: KubeConfig,
  options: { clock: () => number; maxAgeMs?: number; cooldownMs?: number },
): JWTVerifyGetKey {
  const maxAgeMs = options.maxAgeMs ?? 300_000;
  const cooldownMs = options.cooldownMs ?? 10_000;
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let fetching: Promise<void> | undefined;
  const refresh = () =>
    (fetching ??= (async () => {
      try {
        const jwks = JSON.parse(await getJwks(kube)) as JSONWebKeySet;
        keys = createLocalJWKSet(jwks);
        fetchedAt = options.clock();
      } catch (error) {
        throw new CollectorError(
          'auth_unavailable',
          `cannot fetch the service-account JWKS: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      } finally {
        fetching = undefined;
      }
    })());
  return async (header, token) => {
    if (keys === undefined || options.clock() - fetchedAt > maxAgeMs) await refresh();
    try {
      return await keys!(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || options.clock() - fetchedAt < cooldownMs)
        throw error;
      await refresh();
      return keys!(header, token);
    }
  };
}

/** Keys from a configured JWKS URL (jose caches them and refetches on an unknown key id). */
export function urlKeys(url: string): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 10_000 });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
        throw error;
      throw new CollectorError(
        'auth_unavailable',
        `cannot fetch the JWKS at ${url}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  };
}

/** The service-account issuer, from the API server's OpenID discovery document. */
export async function discoverIssuer(kube: KubeConfig): Promise<string> {
  const document = (await kubeRequest(kube, 'GET', '/.well-known/openid-configuration')) as {
    issuer?: unknown;
  };
  if (typeof document?.issuer !== 'string' || document.issuer === '') {
    throw new Error(
      'the API server published no service-account issuer at /.well-known/openid-configuration',
    );
  }
  return document.issuer;
}

/** GET /openid/v1/jwks: the API server serves it only as application/jwk-set+json (kubeRequest asks for JSON). */
async function getJwks(kube: KubeConfig): Promise<string> {
  const server = new URL(kube.getCurrentCluster()?.server ?? 'https://kubernetes.default.svc');
  const options = {
    method: 'GET',
    hostname: server.hostname,
    port: server.port || 443,
    path: '/openid/v1/jwks',
    headers: { accept: 'application/jwk-set+json' },
  };
  await kube.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`GET /openid/v1/jwks: HTTP ${res.statusCode}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('GET /openid/v1/jwks timed out')));
    req.end();
  });
}
