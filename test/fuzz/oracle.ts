import { canonicalJson } from '../../policy/hash.ts';
import type { RawResponse } from '../harness/raw-http.ts';
import type { Caller } from './fuzz-case.ts';

/**
 * The differential fuzzer's oracle, as pure functions over what was observed: the sidecar's answer,
 * the sidecar's audit trail, and what a real server executed.
 *
 * - Every execution at a server has an `allowed` audit decision for the same tool with the same (bound)
 *   arguments, one decision per execution.
 * - The destructive tool is never executed; a caller never executes a tool no rule allows them.
 * - A tools/list answer never shows a tool the caller may not call.
 * - The sidecar answers every request with JSON-RPC: a JSON-RPC message or batch (JSON or an event
 *   stream), 202 for notifications, and for every refusal a JSON-RPC error body; never an internal error.
 */
export interface Execution {
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** An audit event's view of an allowed call. */
export interface AllowedCall {
  readonly tool: string;
  readonly arguments: unknown;
}

export interface Finding {
  readonly kind:
    | 'unauthorized-execution'
    | 'forbidden-tool-executed'
    | 'hidden-tool-listed'
    | 'no-answer'
    | 'not-json-rpc'
    | 'internal-error';
  readonly detail: string;
}

/** The tools each caller may call under test/fixtures/policies/fuzz, and every tool's declared properties. */
export const CALLABLE: Readonly<Record<Caller, readonly string[]>> = {
  alice: ['echo', 'get_invoice'],
  mallory: ['get_invoice'],
};

const PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  echo: ['text'],
  get_invoice: ['customer_id', 'invoice_id'],
  send_email: ['to', 'body'],
};

/**
 * What the server should have received of an allowed call's arguments: SDKs drop properties their tool
 * does not declare (the execution log shows what the handler got), so only the declared ones count.
 */
function declared(tool: string, args: unknown): string {
  const names = PROPERTIES[tool];
  if (names === undefined || typeof args !== 'object' || args === null || Array.isArray(args))
    return canonicalJson(args);
  const kept: Record<string, unknown> = {};
  for (const name of names)
    if (Object.hasOwn(args, name)) kept[name] = (args as Record<string, unknown>)[name];
  return canonicalJson(kept);
}

export function unmatchedExecutions(
  caller: Caller,
  executions: readonly Execution[],
  allowed: readonly AllowedCall[],
): Finding[] {
  const findings: Finding[] = [];
  const open = allowed.map((call) => `${call.tool}\u0000${declared(call.tool, call.arguments)}`);
  for (const execution of executions) {
    if (!CALLABLE[caller].includes(execution.tool)) {
      findings.push({
        kind: 'forbidden-tool-executed',
        detail: `${caller} executed ${JSON.stringify(execution.tool)} ${JSON.stringify(execution.arguments)}`,
      });
    }
    const key = `${execution.tool}\u0000${declared(execution.tool, execution.arguments)}`;
    const index = open.indexOf(key);
    if (index >= 0) open.splice(index, 1);
    else
      findings.push({
        kind: 'unauthorized-execution',
        detail: `executed ${JSON.stringify(execution.tool)} ${JSON.stringify(execution.arguments)} without an allowed decision for those arguments (allowed: ${JSON.stringify(allowed)})`,
      });
  }
  return findings;
}

/** JSON-RPC messages in an answer: a JSON body, or the data of each event of an event stream. */
export function answerMessages(response: RawResponse): unknown[] | undefined {
  const type = String(response.headers['content-type'] ?? '');
  try {
    if (type.startsWith('application/json')) {
      const value: unknown = JSON.parse(response.body);
      return Array.isArray(value) ? value : [value];
    }
    if (type.startsWith('text/event-stream')) {
      return response.body
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .filter((data) => data !== '')
        .map((data) => JSON.parse(data) as unknown);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function isJsonRpc(message: unknown): message is Record<string, unknown> {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as Record<string, unknown>)['jsonrpc'] === '2.0'
  );
}

export function answerFindings(caller: Caller, response: RawResponse, cutShort: boolean): Finding[] {
  if (response.status === 0)
    return [{ kind: 'no-answer', detail: 'the connection closed without an answer' }];
  if (response.status === 202 && response.body === '') return [];
  // An event stream the fuzzer stopped reading (a GET) is an answer; its events may be incomplete.
  if (cutShort) return [];
  const messages = answerMessages(response);
  if (messages === undefined || messages.length === 0 || !messages.every(isJsonRpc)) {
    return [
      {
        kind: 'not-json-rpc',
        detail: `${response.status} ${String(response.headers['content-type'])}: ${response.body.slice(0, 200)}`,
      },
    ];
  }
  const findings: Finding[] = [];
  for (const message of messages) {
    const error = message['error'] as { data?: { portcullis?: { code?: string } } } | undefined;
    if (error?.data?.portcullis?.code === 'internal_error')
      findings.push({ kind: 'internal-error', detail: JSON.stringify(message).slice(0, 300) });
    const tools = (message['result'] as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) continue;
    for (const tool of tools as { name?: unknown }[]) {
      if (typeof tool.name === 'string' && !CALLABLE[caller].includes(tool.name))
        findings.push({
          kind: 'hidden-tool-listed',
          detail: `${caller} was shown ${JSON.stringify(tool.name)}`,
        });
    }
  }
  if (response.status >= 400 && !messages.some((m) => 'error' in m))
    findings.push({ kind: 'not-json-rpc', detail: `${response.status} without a JSON-RPC error` });
  return findings;
}
