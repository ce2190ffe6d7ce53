import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * A request that names a session must come from the principal that opened it. Someone else's session
 * id gets the same answer as an unknown one, so ids cannot be probed.
 */
export function checkSession(exchange: Exchange, context: SidecarContext): StageResult {
  const header = exchange.headers['mcp-session-id'];
  if (header === undefined) return undefined;
  const id = Array.isArray(header) ? undefined : header;
  if (id === undefined || !/^[\x21-\x7e]{1,256}$/.test(id))
    return reject('invalid_request', 'malformed Mcp-Session-Id');
  const session = context.sessions.lookup(id, exchange.principal!);
  if (session === undefined) return reject('session_not_found', 'session not found; initialize a new one');
  exchange.sessionId = id;
  exchange.session = session;
  exchange.protocolVersion ??= session.protocolVersion;
  return undefined;
}
