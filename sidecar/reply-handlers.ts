import { isToolVisible } from '../policy/visibility.ts';
import type { SidecarContext } from './context.ts';
import { checkToolResult } from './contracts/check-contracts.ts';
import { contractListedTools, contractNotification } from './contracts/replies.ts';
import type { Exchange, ToolCall } from './exchange.ts';
import { recordCall } from './audit/record-exchange.ts';

/**
 * What the sidecar does with the upstream's replies to the requests it forwarded: record the session
 * an initialize opened, filter tools/list to what this caller may call, and note each tool call's fate.
 * Everything else passes through untouched.
 */
export type PendingReply =
  | { readonly kind: 'initialize'; readonly clientInfo?: { name?: string; version?: string } }
  | { readonly kind: 'tools/list' }
  | { readonly kind: 'tools/call'; readonly call: ToolCall };

export function pendingReplies(exchange: Exchange): Map<string | number, PendingReply> {
  const pending = new Map<string | number, PendingReply>();
  for (const view of exchange.messages) {
    if (view.kind !== 'request' || view.id === undefined) continue;
    if (view.method === 'initialize') {
      const params = view.message['params'] as
        { clientInfo?: { name?: unknown; version?: unknown } } | undefined;
      const info = params?.clientInfo;
      pending.set(view.id, {
        kind: 'initialize',
        ...(info
          ? {
              clientInfo: {
                ...(typeof info.name === 'string' ? { name: info.name.slice(0, 256) } : {}),
                ...(typeof info.version === 'string' ? { version: info.version.slice(0, 64) } : {}),
              },
            }
          : {}),
      });
    } else if (view.method === 'tools/list') {
      pending.set(view.id, { kind: 'tools/list' });
    }
  }
  for (const call of exchange.calls) pending.set(call.id, { kind: 'tools/call', call });
  return pending;
}

const MODERN = '2026-07-28';

/** Applies the handler for this reply, if any; returns the message to send on (the same object when unchanged). */
export function handleReply(
  message: Record<string, unknown>,
  pending: Map<string | number, PendingReply>,
  exchange: Exchange,
  context: SidecarContext,
  upstreamSessionId: string | undefined,
): Record<string, unknown> {
  const id = message['id'];
  if (id === undefined) contractNotification(context, message);
  if ((typeof id !== 'string' && typeof id !== 'number') || !('result' in message || 'error' in message))
    return message;
  const reply = pending.get(id);
  if (reply === undefined) return message;
  pending.delete(id);
  const result = message['result'] as Record<string, unknown> | undefined;
  switch (reply.kind) {
    case 'initialize': {
      const version =
        typeof result?.['protocolVersion'] === 'string' ? (result['protocolVersion'] as string) : undefined;
      if (version) exchange.protocolVersion = version;
      if (upstreamSessionId && exchange.principal) {
        exchange.sessionId = upstreamSessionId;
        exchange.session = context.sessions.bind(upstreamSessionId, exchange.principal, {
          ...(version ? { protocolVersion: version } : {}),
          ...(reply.clientInfo ? { clientInfo: reply.clientInfo } : {}),
        });
      }
      return message;
    }
    case 'tools/list': {
      const tools = contractListedTools(context, exchange, id, result); // quarantined tools removed
      if (!Array.isArray(tools) || exchange.policy === undefined || exchange.principal === undefined)
        return message;
      const policy = exchange.policy;
      const principal = exchange.principal;
      const visible = tools.filter(
        (tool: unknown) =>
          typeof tool === 'object' &&
          tool !== null &&
          typeof (tool as { name?: unknown }).name === 'string' &&
          isToolVisible(policy, principal, (tool as { name: string }).name),
      );
      // A per-caller list must never be cached across callers (2026-07-28 cache hints).
      const privateHint =
        exchange.protocolVersion === MODERN || 'cacheScope' in (result ?? {})
          ? { cacheScope: 'private' }
          : {};
      return { ...message, result: { ...result, tools: visible, ...privateHint } };
    }
    case 'tools/call': {
      const checked = checkToolResult(context.contracts, reply.call, message, exchange.requestId); // outputSchema
      const checkedResult = checked['result'] as Record<string, unknown> | undefined;
      reply.call.outcome =
        'error' in checked ? 'upstream_error' : checkedResult?.['isError'] === true ? 'tool_error' : 'ok';
      recordCall(exchange, context, reply.call); // before the client can see the result
      return checked;
    }
  }
}
