/**
 * The closed table of what a client may send an MCP server, and the rule for everything else.
 *
 * The sidecar authorizes by method, so a message whose method the server could read as a different one is a
 * way past policy. Three rules close that gap:
 *
 * 1. Known methods keep their kind. A request-only method sent without an id (`tools/call` as a notification)
 *    is refused: the server may still execute it, and nobody would see an answer or a decision for it. A
 *    notification method sent with an id is refused too. Server-to-client methods (`sampling/createMessage`,
 *    `roots/list`, `elicitation/create`) are refused from a client.
 * 2. MCP's own namespaces are closed. A method in one of them (`tools/…`, `notifications/…`, ...), compared
 *    after NFKC normalization and case folding, must be exactly a method of the table: `Tools/Call`,
 *    `tools/call ` or `tools/ｃａｌｌ` never reach a server that might normalize them.
 * 3. Method names are visible ASCII. Anything else (an extension method such as `acme.com/reindex`) is
 *    forwarded as written when the server's `spec.protocol.extensionMethods` is Forward (the default), where
 *    every SDK answers "method not found" unless the server implements it (the differential fuzzer checks
 *    that no server executes a tool for such a message), and refused when it is Refuse.
 */
import { quoteForMessage } from './quote.ts';

export type MessageKind = 'request' | 'notification';

/** spec.protocol.extensionMethods: what becomes of methods outside MCP's table and namespaces. */
export type ExtensionMethods = 'Forward' | 'Refuse';

/** Client-to-server requests across every published revision (2024-11-05 .. 2026-07-28). */
const CLIENT_REQUESTS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'server/discover',
  'subscriptions/listen',
]);

/** Client-to-server notifications. */
const CLIENT_NOTIFICATIONS: ReadonlySet<string> = new Set([
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'notifications/tasks/status',
]);

/** Methods a server sends a client; a client sending one to a server is confused or probing. */
const SERVER_ONLY: ReadonlySet<string> = new Set([
  'sampling/createMessage',
  'roots/list',
  'elicitation/create',
  'notifications/message',
  'notifications/resources/updated',
  'notifications/resources/list_changed',
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/elicitation/complete',
  'notifications/subscriptions/acknowledged',
]);

/** The namespaces MCP defines; folded (see fold). */
const MCP_NAMESPACES = [
  'tools/',
  'resources/',
  'prompts/',
  'completion/',
  'logging/',
  'tasks/',
  'server/',
  'subscriptions/',
  'notifications/',
  'sampling/',
  'roots/',
  'elicitation/',
];

const FOLDED_KNOWN: ReadonlyMap<string, string> = new Map(
  [...CLIENT_REQUESTS, ...CLIENT_NOTIFICATIONS, ...SERVER_ONLY].map((m) => [fold(m), m]),
);

export type MethodCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const ACCEPTED: MethodCheck = Object.freeze({ ok: true });

/** Whether a client may send `method` to a server as a message of this kind. */
export function checkClientMethod(
  method: string,
  kind: MessageKind,
  extensions: ExtensionMethods = 'Forward',
): MethodCheck {
  if (CLIENT_REQUESTS.has(method)) {
    return kind === 'request'
      ? ACCEPTED
      : refused(`${method} is a request: sent without an id it would run unanswered and unseen`);
  }
  if (CLIENT_NOTIFICATIONS.has(method)) {
    return kind === 'notification' ? ACCEPTED : refused(`${method} is a notification: it carries no id`);
  }
  if (SERVER_ONLY.has(method)) return refused(`${method} is sent by servers, not to them`);
  if (!isVisibleAscii(method)) return refused('method names are visible ASCII');
  const folded = fold(method);
  const lookalike = FOLDED_KNOWN.get(folded);
  if (lookalike !== undefined)
    return refused(`method ${quoteForMessage(method)} is not ${lookalike}; names are exact`);
  if (folded === 'initialize' || folded === 'ping' || MCP_NAMESPACES.some((ns) => folded.startsWith(ns)))
    return refused(`method ${quoteForMessage(method)} is in MCP's namespace but not a method MCP defines`);
  if (extensions === 'Refuse')
    return refused(
      `method ${quoteForMessage(method)} is not an MCP method, and this server forwards none other`,
    );
  return ACCEPTED;
}

/** Whether a method is one MCP defines for clients (anything else is an extension). */
export function isKnownClientMethod(method: string): boolean {
  return CLIENT_REQUESTS.has(method) || CLIENT_NOTIFICATIONS.has(method);
}

function fold(method: string): string {
  return method.normalize('NFKC').toLowerCase();
}

function isVisibleAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function refused(reason: string): MethodCheck {
  return { ok: false, reason };
}
