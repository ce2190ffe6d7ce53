import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
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
 * from browsers), and the media types Streamable HTTP requires.
 */
export function checkRoute(exchange: Exchange, context: SidecarContext): StageResult {
  const { headers } = exchange;
  if (!hostAllowed(headers.host, context.access.allowedHosts())) {
    return reject(
      'forbidden_host',
      `Host ${JSON.stringify(headers.host ?? '')} is not an allowed host of this server`,
    );
  }
  const origin = headers.origin;
  if (origin !== undefined && !context.access.originAllowed(origin)) {
    return reject('forbidden_origin', `Origin ${origin} is not allowed`);
  }
  if (exchange.path !== context.access.mcpPath())
    return reject('not_found', `no MCP endpoint at ${exchange.path}`);
  if (!MCP_METHODS.has(exchange.method))
    return reject('method_not_allowed', `${exchange.method} is not allowed; use POST, GET or DELETE`);
  if (exchange.method === 'POST') {
    const type = headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
    if (type !== 'application/json')
      return reject('unsupported_media_type', 'POST bodies must be application/json');
    const accept = headers.accept ?? '*/*';
    if (!/application\/json|text\/event-stream|\*\/\*/i.test(accept)) {
      return reject('not_acceptable', 'Accept must include application/json and text/event-stream');
    }
  } else if (exchange.method === 'GET' && !/text\/event-stream|\*\/\*/i.test(headers.accept ?? '')) {
    return reject('not_acceptable', 'GET opens an event stream; Accept must include text/event-stream');
  }
  return undefined;
}
