import { parseStrictJson } from '../protocol/strict-json.ts';

/**
 * The JOSE header and the claims of a compact JWS, read with the sidecar's strict JSON parser before the
 * signature is checked. jose reads them with JSON.parse, where the last of two equal member names wins:
 * `{"tenant":"a","tenant":"b"}` is tenant b here, but tenant a in a consumer that keeps the first (and an
 * authorization server's logs may show either). A signed token whose meaning depends on the reader is
 * refused, as are the other things strict-json.ts refuses (`__proto__` names, lone surrogates, huge
 * numbers), and bytes that are not UTF-8 (a lenient decoder would turn them into U+FFFD, making two
 * different names equal). Costs one decode and one parse per segment, on a cache miss only.
 *
 * Returns a reason when the token is refused, undefined when it may go on to signature verification.
 * Reasons name the segment and the kind of fault, never text taken from the token.
 */
export function strictTokenJsonFault(token: string): string | undefined {
  const segments = token.split('.');
  // A JWE has five segments; a JWS with a detached or unencoded payload is not an access token either.
  if (segments.length !== 3) return `malformed token: ${segments.length} segments, a JWS has 3`;
  const [header, payload] = segments as [string, string, string];
  const headerFault = segmentFault('header', header);
  if (headerFault !== undefined) return headerFault;
  return segmentFault('payload', payload);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// Headers and claims are flat and small; depth 16 is generous for act chains and nested claims, and the
// 8 KiB header cap already bounds the member count.
const LIMITS = { maxDepth: 16 } as const;

function segmentFault(name: 'header' | 'payload', segment: string): string | undefined {
  if (!BASE64URL.test(segment)) return `malformed token: the ${name} is not base64url`;
  let text: string;
  try {
    text = UTF8.decode(Buffer.from(segment, 'base64url'));
  } catch {
    return `malformed token: the ${name} is not UTF-8`;
  }
  const parsed = parseStrictJson(text, LIMITS);
  if (!parsed.ok) {
    const { code } = parsed.error;
    return code === 'duplicate_key'
      ? `malformed token: the ${name} repeats a member name`
      : `malformed token: the ${name} is not strict JSON (${code.replaceAll('_', ' ')})`;
  }
  const { value } = parsed;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `malformed token: the ${name} is not a JSON object`;
  // RFC 7797: with b64 false the payload segment is raw bytes, not base64url JSON. JWTs never use it.
  if (name === 'header' && Object.hasOwn(value, 'b64'))
    return 'malformed token: the header asks for an unencoded payload (b64), which a JWT never uses';
  return undefined;
}
