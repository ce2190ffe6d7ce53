/**
 * Where the access token may come from: one Authorization header, nothing else (RFC 6750 section 2 allows
 * a client one method per request; section 2.3's URI query method is the one we refuse outright).
 *
 * - Two Authorization headers: Node keeps the first in `request.headers` and drops the rest, while a proxy
 *   in front or the upstream may keep the last, so which token was checked would depend on the reader.
 *   Counted on `rawHeaders`, which holds every header line as received.
 * - `access_token` in the query string: URLs end up in access logs, browser history and Referer headers,
 *   so a token sent there is leaked whatever we do with it; refused with or without a header, so a client
 *   that does it learns at once instead of working until a log is read by the wrong person.
 *
 * A form-encoded body (section 2.2) cannot happen: POST bodies must be application/json (check-route).
 * Cookies are never read. Reasons name the fault, never a header value or the query text.
 */
export type CredentialLocation =
  { readonly ok: true } | { readonly ok: false; readonly code: 'invalid_request'; readonly reason: string };

const OK: CredentialLocation = Object.freeze({ ok: true });

export function checkCredentialLocation(rawHeaders: readonly string[], url: string): CredentialLocation {
  let authorizations = 0;
  // rawHeaders alternates name, value.
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'authorization') authorizations++;
  }
  if (authorizations > 1) {
    return refused(`${authorizations} Authorization headers; send exactly one`);
  }
  const query = url.indexOf('?');
  if (query >= 0 && new URLSearchParams(url.slice(query + 1)).has('access_token')) {
    return refused(
      'an access token in the URL query (access_token) is not accepted, since URLs are logged; send it in the Authorization header',
    );
  }
  return OK;
}

function refused(reason: string): CredentialLocation {
  return { ok: false, code: 'invalid_request', reason };
}
