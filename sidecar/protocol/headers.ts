/**
 * MCP's HTTP request headers: the protocol revision, and the headers that mirror the body (2026-07-28,
 * "Request Metadata" in the Streamable HTTP transport, from SEP-2243):
 *
 *   MCP-Protocol-Version  every POST; must equal params._meta["io.modelcontextprotocol/protocolVersion"]
 *   Mcp-Method            every request; must equal `method`
 *   Mcp-Name              tools/call and prompts/get: `params.name`; resources/read: `params.uri`
 *
 * Load balancers, gateways and rate limiters route on these headers without reading the body, so a header
 * that disagrees with the body lets a request be routed, metered or allowed as one thing and executed as
 * another. The specification requires servers that read the body to refuse any mismatch with 400 and
 * JSON-RPC error -32020 (HeaderMismatch); the sidecar, which reads every body, refuses it for every revision:
 * an older client need not send the headers, but when it does they must tell the truth.
 *
 * `Mcp-Name` values that are not plain header-safe ASCII arrive as `=?base64?<base64 of UTF-8>?=` and are
 * compared after decoding. `Mcp-Param-{Name}` headers (declared per tool by `x-mcp-header`) use the same
 * encoding; checking them needs the tool's input schema, so it belongs to the caller: decodeMirroredHeaderValue
 * is exported for that.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { JsonRpcNotification, JsonRpcRequest } from './jsonrpc.ts';
import { isPlainObject } from './jsonrpc.ts';
import { quoteForMessage } from './quote.ts';

/** Every published revision, oldest first. */
export const PROTOCOL_REVISIONS = [
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
  '2026-07-28',
] as const;

export type ProtocolRevision = (typeof PROTOCOL_REVISIONS)[number];

export const LATEST_PROTOCOL_REVISION: ProtocolRevision = '2026-07-28';

/** What a server may assume when a request has no MCP-Protocol-Version header (the header arrived in 2025-06-18). */
export const REVISION_WITHOUT_HEADER: ProtocolRevision = '2025-03-26';

export function isProtocolRevision(value: unknown): value is ProtocolRevision {
  return typeof value === 'string' && (PROTOCOL_REVISIONS as readonly string[]).includes(value);
}

/** Revisions are dates, so they order as strings. */
export function revisionAtLeast(revision: ProtocolRevision, minimum: ProtocolRevision): boolean {
  return revision >= minimum;
}

/** 2026-07-28 made the mirrored headers (and the protocol version in `_meta`) mandatory. */
export function requiresMirroredHeaders(revision: ProtocolRevision): boolean {
  return revisionAtLeast(revision, '2026-07-28');
}

/**
 * 2026-07-28 carries W3C trace context in `params._meta` (the unprefixed keys traceparent, tracestate and
 * baggage, SEP-414); before it those keys are the client's own data and travel untouched.
 */
export function carriesTraceContextInMeta(revision: ProtocolRevision): boolean {
  return revisionAtLeast(revision, '2026-07-28');
}

/** JSON-RPC batches: added in 2025-03-26, removed in 2025-06-18. */
export function allowsJsonRpcBatches(revision: ProtocolRevision): boolean {
  return revision === '2025-03-26';
}

/**
 * A header as Node's `request.headers` gives it. Node joins a repeated custom header into one ", "-separated
 * string, which then matches nothing; `headersDistinct` and other sources give an array, refused as repeated.
 */
export type HeaderValue = string | readonly string[] | undefined;

export type ProtocolVersionHeader =
  | { readonly ok: true; readonly revision: ProtocolRevision }
  | { readonly ok: false; readonly code: 'missing' | 'unsupported' | 'repeated'; readonly reason: string };

/**
 * The MCP-Protocol-Version header. `missing` is for the caller to decide (REVISION_WITHOUT_HEADER, or refuse);
 * `unsupported` maps to 400 with UnsupportedProtocolVersion listing PROTOCOL_REVISIONS.
 */
export function parseProtocolVersionHeader(value: HeaderValue): ProtocolVersionHeader {
  if (value === undefined) return { ok: false, code: 'missing', reason: 'no MCP-Protocol-Version header' };
  if (typeof value !== 'string') {
    return { ok: false, code: 'repeated', reason: 'the MCP-Protocol-Version header appears more than once' };
  }
  if (isProtocolRevision(value)) return { ok: true, revision: value };
  return {
    ok: false,
    code: 'unsupported',
    reason: `unsupported MCP-Protocol-Version ${quoteForMessage(value)}; supported: ${PROTOCOL_REVISIONS.join(', ')}`,
  };
}

/** The mirrored headers of one request, as Node gives them (`request.headers['mcp-method']`, ...). */
export interface MirroredHeaders {
  readonly method?: HeaderValue;
  readonly name?: HeaderValue;
}

export type MirroredHeaderName = 'MCP-Protocol-Version' | 'Mcp-Method' | 'Mcp-Name';

export interface MirroredHeaderMismatch {
  readonly ok: false;
  readonly code: 'missing_header' | 'malformed_header' | 'header_mismatch';
  readonly header: MirroredHeaderName;
  readonly reason: string;
}

export type MirroredHeaderCheck = { readonly ok: true } | MirroredHeaderMismatch;

const MATCHES: MirroredHeaderCheck = Object.freeze({ ok: true });

export const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

/**
 * Whether the headers tell the truth about the body. `revision` is the request's parsed MCP-Protocol-Version;
 * from 2026-07-28 on, requests must carry the headers (notifications need not: the specification defines no
 * header requirements for them) and `_meta` must carry the same revision. Every failure maps to 400 and -32020.
 */
export function checkMirroredHeaders(
  headers: MirroredHeaders,
  message: JsonRpcRequest | JsonRpcNotification,
  revision: ProtocolRevision = LATEST_PROTOCOL_REVISION,
): MirroredHeaderCheck {
  const required = requiresMirroredHeaders(revision) && 'id' in message;
  return (
    checkMethodHeader(headers.method, message, required) ??
    checkNameHeader(headers.name, message, required) ??
    checkMetaRevision(message, required, revision) ??
    MATCHES
  );
}

function checkMethodHeader(
  header: HeaderValue,
  message: JsonRpcRequest | JsonRpcNotification,
  required: boolean,
): MirroredHeaderMismatch | undefined {
  const value = singleValue(header, 'Mcp-Method', required);
  if (typeof value !== 'string') return value;
  if (!isHeaderSafe(value)) {
    return mismatch(
      'malformed_header',
      'Mcp-Method',
      'the Mcp-Method header has characters a header cannot carry',
    );
  }
  if (value === message.method) return undefined;
  const reason = `Mcp-Method header ${quoteForMessage(value)} does not match body method ${quoteForMessage(message.method)}`;
  return mismatch('header_mismatch', 'Mcp-Method', reason);
}

function checkNameHeader(
  header: HeaderValue,
  message: JsonRpcRequest | JsonRpcNotification,
  required: boolean,
): MirroredHeaderMismatch | undefined {
  const member = nameMemberOf(message.method);
  if (member === undefined) {
    if (header === undefined) return undefined;
    // Nothing in the body to check it against, and something downstream may still route on it.
    const reason = `an Mcp-Name header on ${quoteForMessage(message.method)}, which carries no name`;
    return mismatch('header_mismatch', 'Mcp-Name', reason);
  }
  const value = singleValue(header, 'Mcp-Name', required);
  if (typeof value !== 'string') return value;
  const decoded = decodeMirroredHeaderValue(value);
  if (!decoded.ok) return mismatch('malformed_header', 'Mcp-Name', `Mcp-Name header: ${decoded.reason}`);
  const bodyValue = message.params?.[member];
  if (decoded.value === bodyValue) return undefined;
  const body = typeof bodyValue === 'string' ? quoteForMessage(bodyValue) : `no string params.${member}`;
  const reason = `Mcp-Name header ${quoteForMessage(decoded.value)} does not match body ${body}`;
  return mismatch('header_mismatch', 'Mcp-Name', reason);
}

function checkMetaRevision(
  message: JsonRpcRequest | JsonRpcNotification,
  required: boolean,
  revision: ProtocolRevision,
): MirroredHeaderMismatch | undefined {
  if (!required) return undefined;
  const meta = message.params?._meta;
  const bodyRevision = isPlainObject(meta) ? meta[PROTOCOL_VERSION_META_KEY] : undefined;
  if (bodyRevision === revision) return undefined;
  const body =
    typeof bodyRevision === 'string'
      ? quoteForMessage(bodyRevision)
      : `no _meta["${PROTOCOL_VERSION_META_KEY}"]`;
  const reason = `MCP-Protocol-Version header "${revision}" does not match body ${body}`;
  return mismatch('header_mismatch', 'MCP-Protocol-Version', reason);
}

/** The one value of a header; a mismatch when repeated, or absent but required; undefined when absent and optional. */
function singleValue(
  value: HeaderValue,
  header: MirroredHeaderName,
  required: boolean,
): string | MirroredHeaderMismatch | undefined {
  if (typeof value === 'string') return value;
  if (value !== undefined)
    return mismatch('malformed_header', header, `the ${header} header appears more than once`);
  return required ? mismatch('missing_header', header, `the ${header} header is required`) : undefined;
}

/** Which params member Mcp-Name mirrors. A switch, not an object lookup: a method named "constructor" must find nothing. */
function nameMemberOf(method: string): 'name' | 'uri' | undefined {
  switch (method) {
    case 'tools/call':
    case 'prompts/get':
      return 'name';
    case 'resources/read':
      return 'uri';
    default:
      return undefined;
  }
}

export type DecodedHeaderValue =
  { readonly ok: true; readonly value: string } | { readonly ok: false; readonly reason: string };

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A mirrored header value (Mcp-Name, Mcp-Param-*): plain visible ASCII, or `=?base64?…?=` wrapping the base64
 * of UTF-8. Decoding is strict so that one header cannot have two readings: canonical base64 only (no
 * whitespace, no URL alphabet, zero padding bits), and valid UTF-8 only.
 */
export function decodeMirroredHeaderValue(raw: string): DecodedHeaderValue {
  if (
    raw.startsWith(SENTINEL_PREFIX) &&
    raw.endsWith(SENTINEL_SUFFIX) &&
    raw.length >= SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length
  ) {
    const payload = raw.slice(SENTINEL_PREFIX.length, raw.length - SENTINEL_SUFFIX.length);
    if (!BASE64.test(payload)) return { ok: false, reason: 'the =?base64?…?= value is not canonical base64' };
    const bytes = Buffer.from(payload, 'base64');
    if (bytes.toString('base64') !== payload)
      return { ok: false, reason: 'the =?base64?…?= value is not canonical base64' };
    if (!isUtf8(bytes)) return { ok: false, reason: 'the =?base64?…?= value is not UTF-8' };
    return { ok: true, value: bytes.toString('utf8') };
  }
  if (!isHeaderSafe(raw)) {
    return { ok: false, reason: 'values outside visible ASCII must use the =?base64?…?= form' };
  }
  return { ok: true, value: raw };
}

/** Visible ASCII, space and tab (RFC 9110 field-value without obs-text, which Node hands over as Latin-1). */
function isHeaderSafe(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}

function mismatch(
  code: MirroredHeaderMismatch['code'],
  header: MirroredHeaderName,
  reason: string,
): MirroredHeaderMismatch {
  return { ok: false, code, header, reason };
}
