import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';

/**
 * The contract side of reply handling (called from reply-handlers.ts): a tools/list reply is observed
 * and filtered to the tools a client may see; a list_changed notification marks the table stale.
 */
export function contractListedTools(
  context: SidecarContext,
  exchange: Exchange,
  id: string | number,
  result: Record<string, unknown> | undefined,
): unknown {
  const tools = result?.['tools'];
  if (!Array.isArray(tools) || context.contracts.mode === 'Disabled') return tools;
  const request = exchange.messages.find((m) => m.kind === 'request' && m.id === id)?.message;
  const params = request?.['params'] as { cursor?: unknown } | undefined;
  const complete = params?.cursor === undefined && result?.['nextCursor'] === undefined;
  return context.contracts.filterList(tools, { complete, request: exchange, requestId: exchange.requestId });
}

/** Any message the server sends through the sidecar; only list_changed matters here. */
export function contractNotification(context: SidecarContext, message: Record<string, unknown>): void {
  if (message['method'] === 'notifications/tools/list_changed') context.contracts.listChanged();
}
