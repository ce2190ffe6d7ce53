import { classifyMessage } from '../protocol/jsonrpc.ts';
import { parseStrictJson } from '../protocol/strict-json.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange, JsonRpcMessageView } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

const MAX_BATCH = 64;

/**
 * Strict JSON (no duplicate or prototype keys: refused, not guessed at), JSON-RPC 2.0 shape, and the
 * tools/call requests the authorize stage must decide. Anything malformed is refused here, before
 * authentication costs anything.
 */
export function parseMessages(exchange: Exchange, _context: SidecarContext): StageResult {
  if (exchange.method !== 'POST') return undefined;
  const parsed = parseStrictJson(exchange.body?.toString('utf8') ?? '');
  if (!parsed.ok)
    return reject('parse_error', `request body is not acceptable JSON: ${parsed.error.message}`);
  const values = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
  exchange.isBatch = Array.isArray(parsed.value);
  if (values.length === 0) return reject('invalid_request', 'an empty batch is not a request');
  if (values.length > MAX_BATCH)
    return reject('invalid_request', `batches are limited to ${MAX_BATCH} messages`);

  for (const [index, value] of values.entries()) {
    const classified = classifyMessage(value);
    if (classified.kind === 'invalid')
      return reject('invalid_request', `message ${index}: ${classified.reason}`);
    const message = classified.message as unknown as Record<string, unknown>;
    const view: JsonRpcMessageView = {
      message,
      kind: classified.kind,
      ...(message['id'] !== undefined ? { id: message['id'] as string | number } : {}),
      ...(typeof message['method'] === 'string' ? { method: message['method'] } : {}),
    };
    exchange.messages.push(view);
    if (view.kind === 'request' && view.method === 'tools/call') {
      const params = message['params'] as Record<string, unknown> | undefined;
      const name = params?.['name'];
      const args = params?.['arguments'] ?? {};
      if (typeof name !== 'string' || name === '')
        return reject('invalid_request', 'tools/call needs params.name');
      if (typeof args !== 'object' || args === null || Array.isArray(args)) {
        return reject('invalid_request', 'tools/call params.arguments must be an object');
      }
      exchange.calls.push({ index, id: view.id!, tool: name, args: args as Record<string, unknown> });
    }
  }
  const ids = exchange.messages.filter((m) => m.kind === 'request').map((m) => m.id);
  if (new Set(ids).size !== ids.length)
    return reject('invalid_request', 'request ids in a batch must be unique');
  return undefined;
}
