import {
  allowsJsonRpcBatches,
  checkMirroredHeaders,
  parseProtocolVersionHeader,
  REVISION_WITHOUT_HEADER,
  requiresMirroredHeaders,
  type ProtocolRevision,
} from '../protocol/headers.ts';
import type { JsonRpcNotification, JsonRpcRequest } from '../protocol/jsonrpc.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

/**
 * The declared protocol revision must be one we understand. From 2026-07-28 on, every request carries
 * it and mirrors its method (and tool, prompt or resource name) in headers, which must agree with the
 * body: anything that routes on headers must see the same request we authorise. Earlier revisions may
 * send mirrored headers too; if they do, they must agree as well.
 */
export function checkProtocol(exchange: Exchange, _context: SidecarContext): StageResult {
  const header = parseProtocolVersionHeader(exchange.headers['mcp-protocol-version']);
  if (!header.ok && header.code !== 'missing') return reject('unsupported_protocol_version', header.reason);
  const revision: ProtocolRevision = header.ok ? header.revision : REVISION_WITHOUT_HEADER;
  if (header.ok) exchange.protocolVersion = header.revision;
  if (exchange.method !== 'POST') return undefined;

  if (exchange.isBatch && !allowsJsonRpcBatches(revision)) {
    return reject('invalid_request', `protocol ${revision} does not allow JSON-RPC batches`);
  }
  const mirrored = { method: exchange.headers['mcp-method'], name: exchange.headers['mcp-name'] };
  if (!requiresMirroredHeaders(revision) && mirrored.method === undefined && mirrored.name === undefined)
    return undefined;
  for (const view of exchange.messages) {
    if (view.kind !== 'request' && view.kind !== 'notification') continue;
    const check = checkMirroredHeaders(
      mirrored,
      view.message as unknown as JsonRpcRequest | JsonRpcNotification,
      revision,
    );
    if (!check.ok) return reject('header_mismatch', check.reason);
  }
  return undefined;
}
