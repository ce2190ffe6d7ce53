import { isUtf8 } from 'node:buffer';
import { classifyMessage } from '../protocol/jsonrpc.ts';
import { checkClientMethod } from '../protocol/methods.ts';
import { parseStrictJson } from '../protocol/strict-json.ts';
import { toolNameProblem } from '../protocol/tool-name.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange, JsonRpcMessageView } from '../exchange.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

const MAX_BATCH = 64;

/**
 * Strict UTF-8 (no byte order mark, no invalid or overlong sequences), strict JSON (no duplicate or
 * prototype keys, no lone surrogates: refused, not guessed at), JSON-RPC 2.0 shape, every method checked
 * against MCP's closed table (methods.ts), and the tools/call requests the authorize stage must decide.
 * Anything the sidecar cannot read one way only is refused here, before authentication costs anything;
 * what survives is what `forward` re-serializes for the server.
 */
export function parseMessages(exchange: Exchange, context: SidecarContext): StageResult {
  if (exchange.method !== 'POST') return undefined;
  // No policy yet: Forward here, and gate-policy refuses the request anyway (failurePolicy).
  const extensions = context.policy.current?.bundle.spec.protocol.extensionMethods ?? 'Forward';
  const body = exchange.body ?? Buffer.alloc(0);
  if (!isUtf8(body)) return reject('parse_error', 'request body is not valid UTF-8');
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf)
    return reject('parse_error', 'request body starts with a byte order mark');
  const parsed = parseStrictJson(body.toString('utf8'));
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
    if (view.method !== undefined) {
      const kind = view.kind === 'request' ? 'request' : 'notification';
      const method = checkClientMethod(view.method, kind, extensions);
      if (!method.ok) return reject('invalid_request', `message ${index}: ${method.reason}`);
    }
    exchange.messages.push(view);
    if (view.kind === 'request' && view.method === 'tools/call') {
      const params = message['params'] as Record<string, unknown> | undefined;
      const name = params?.['name'];
      const args = params?.['arguments'] ?? {};
      if (typeof name !== 'string') return reject('invalid_request', 'tools/call needs params.name');
      const nameProblem = toolNameProblem(name);
      if (nameProblem !== undefined) return reject('invalid_request', nameProblem);
      if (typeof args !== 'object' || args === null || Array.isArray(args)) {
        return reject('invalid_request', 'tools/call params.arguments must be an object');
      }
      exchange.calls.push({ index, id: view.id!, tool: name, args: args as Record<string, unknown> });
    }
  }
  // Compared as strings: 1 and "1" differ to JSON-RPC but are one key to many servers' pending maps.
  const ids = exchange.messages.filter((m) => m.kind === 'request').map((m) => String(m.id));
  if (new Set(ids).size !== ids.length)
    return reject('invalid_request', 'request ids in a batch must be unique');
  return undefined;
}
