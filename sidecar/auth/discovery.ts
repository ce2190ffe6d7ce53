import type { JsonFetcher, JsonFetchOptions } from './http-json.ts';

/**
 * Where the issuer's metadata may live, in the order tried: OpenID Connect Discovery appends the
 * well-known suffix to the issuer; RFC 8414 inserts it between the host and the issuer's path.
 */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const oidc = `${url.origin}${path}/.well-known/openid-configuration`;
  const rfc8414 = `${url.origin}/.well-known/oauth-authorization-server${path}`;
  return oidc === rfc8414 ? [oidc] : [oidc, rfc8414];
}

/** Finds the issuer's jwks_uri from its discovery document; throws with every attempt's reason when none works. */
export async function discoverJwksUri(
  issuer: string,
  fetchJson: JsonFetcher,
  options: JsonFetchOptions,
): Promise<string> {
  const problems: string[] = [];
  let first: unknown;
  for (const url of discoveryUrls(issuer)) {
    try {
      return jwksUriOf(await fetchJson(url, options), issuer);
    } catch (error) {
      first ??= error;
      problems.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // The first attempt's error is the cause (the OpenID location; the second is usually a 404 after it).
  throw new Error(`issuer discovery failed (${problems.join('; ')})`, { cause: first });
}

function jwksUriOf(document: unknown, issuer: string): string {
  if (typeof document !== 'object' || document === null)
    throw new Error('discovery document is not an object');
  const { issuer: claimed, jwks_uri: jwksUri } = document as Record<string, unknown>;
  // RFC 8414 section 3.3: the document must name exactly the issuer we asked about, or an attacker able
  // to serve one document could point us at keys of another issuer.
  if (claimed !== issuer) throw new Error('discovery document names a different issuer');
  if (typeof jwksUri !== 'string') throw new Error('discovery document has no jwks_uri');
  const parsed = URL.parse(jwksUri);
  if (parsed === null) throw new Error('jwks_uri is not a URL');
  // Never fetch keys over a weaker scheme than the issuer itself (http issuers exist only in local tests).
  const allowed = new URL(issuer).protocol === 'http:' ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(parsed.protocol)) throw new Error('jwks_uri must use https');
  return parsed.href;
}
