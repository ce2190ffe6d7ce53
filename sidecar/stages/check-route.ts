import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { digestForMessage } from '../protocol/echo.ts';
import { checkContentEncoding, checkJsonMediaType } from '../protocol/media-type.ts';
import { quoteForMessage } from '../protocol/quote.ts';
import { repeatedSingletonHeader } from '../protocol/repeated-headers.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

const MCP_METHODS = new Set(['POST', 'GET', 'DELETE']);

function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (host === undefined) return false;
  const lower = host.toLowerCase();
  if (allowed.has(lower)) return true;
  // Allow entries may omit the port; the hostname must still match exactly.
  const bracket = lower.startsWith('[') ? lower.indexOf(']') : -1;
  const colon = bracket >= 0 ? lower.indexOf(':', bracket) : lower.lastIndexOf(':');
  return colon > 0 && allowed.has(lower.slice(0, colon));
}

/**
 * Exact path, allowed HTTP method, Host and Origin allowlists (DNS rebinding and cross-site requests
 * from browsers), one copy of each header that must be single, and the one body encoding the sidecar
 * reads: application/json in UTF-8, unencoded, length- or chunk-framed. Values from the request appear in
 * reasons quoted and cut short; a path never does (it can carry a token), only its digest.
 */
export function checkRoute(exchange: Exchange, context: SidecarContext): StageResult {
  const { headers } = exchange;
  const repeated = repeatedSingletonHeader(exchange.request.rawHeaders);
  if (repeated !== undefined)
    return reject('invalid_request', `the ${repeated} header appears more than once`);
  if (!hostAllowed(headers.host, context.access.allowedHosts())) {
    return reject(
      'forbidden_host',
      `Host ${quoteForMessage(headers.host ?? '')} is not an allowed host of this server`,
    );
  }
  const origin = headers.origin;
  if (origin !== undefined && !context.access.originAllowed(origin)) {
    return reject('forbidden_origin', `Origin ${quoteForMessage(origin)} is not allowed`);
  }
  if (exchange.path !== context.access.mcpPath())
    return reject('not_found', `unknown path (${digestForMessage(exchange.path)})`);
  if (!MCP_METHODS.has(exchange.method))
    return reject(
      'method_not_allowed',
      `${quoteForMessage(exchange.method, 16)} is not allowed; use POST, GET or DELETE`,
    );
  const encoding = checkContentEncoding(headers['content-encoding']);
  if (!encoding.ok) return reject('unsupported_media_type', encoding.reason);
  const transfer = headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked')
    return reject('unsupported_media_type', 'Transfer-Encoding other than chunked is not accepted');
  if (exchange.method === 'POST') {
    const media = checkJsonMediaType(headers['content-type']);
    if (!media.ok) return reject('unsupported_media_type', media.reason);
    const accept = headers.accept ?? '*/*';
    if (!/application\/json|text\/event-stream|\*\/\*/i.test(accept)) {
      return reject('not_acceptable', 'Accept must include application/json and text/event-stream');
    }
  } else if (exchange.method === 'GET') {
    if (!/text\/event-stream|\*\/\*/i.test(headers.accept ?? ''))
      return reject('not_acceptable', 'GET opens an event stream; Accept must include text/event-stream');
    const lastEventId = headers['last-event-id'];
    if (
      lastEventId !== undefined &&
      (typeof lastEventId !== 'string' || !/^[\x21-\x7e]{1,256}$/.test(lastEventId))
    )
      return reject('invalid_request', 'malformed Last-Event-ID');
  }
  return undefined;
}
