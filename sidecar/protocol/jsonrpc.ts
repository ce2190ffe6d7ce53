/**
 * JSON-RPC 2.0 messages as MCP uses them, and a strict classifier for values from parseStrictJson.
 *
 * Strict because the sidecar authorizes what it classified and the upstream executes what it parses: a member
 * we ignored could be one the upstream honours. So: `jsonrpc` exactly "2.0"; ids are strings or integers
 * within ±(2^53-1) (a larger one rounds, and two requests could share an id); request ids are never null (MCP);
 * `method` a non-empty string outside JSON-RPC's reserved `rpc.` namespace; `params` absent or an object (MCP
 * names its parameters; by-position arrays are refused); no members beyond those JSON-RPC defines; a response
 * carries exactly one of `result` (an object, as in MCP) and `error`.
 *
 * The classifier reads; it never copies or changes the value, so a classified message is the parsed object.
 */
import { quoteForMessage } from './quote.ts';

export type JsonRpcId = string | number;

export type JsonObject = { readonly [key: string]: unknown };

export interface JsonRpcRequest {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId;
  readonly method: string;
  readonly params?: JsonObject;
}

export interface JsonRpcNotification {
  readonly jsonrpc: '2.0';
  readonly method: string;
  readonly params?: JsonObject;
}

export interface JsonRpcSuccessResponse {
  readonly jsonrpc: '2.0';
  readonly id: JsonRpcId;
  readonly result: JsonObject;
}

export interface JsonRpcErrorObject {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/**
 * `id` is null or absent when the request's id could not be read: JSON-RPC 2.0 says null, MCP 2026-07-28
 * omits it. The classifier accepts both.
 */
export interface JsonRpcErrorResponse {
  readonly jsonrpc: '2.0';
  readonly id?: JsonRpcId | null;
  readonly error: JsonRpcErrorObject;
}

export type JsonRpcMessage =
  JsonRpcRequest | JsonRpcNotification | JsonRpcSuccessResponse | JsonRpcErrorResponse;

export type MessageClassification =
  | { readonly kind: 'request'; readonly message: JsonRpcRequest }
  | { readonly kind: 'notification'; readonly message: JsonRpcNotification }
  | { readonly kind: 'response'; readonly message: JsonRpcSuccessResponse }
  | { readonly kind: 'error-response'; readonly message: JsonRpcErrorResponse }
  | InvalidMessage;

/** `id` is the message's id when it had a usable one (answer with it), otherwise null. */
export interface InvalidMessage {
  readonly kind: 'invalid';
  readonly reason: string;
  readonly id: JsonRpcId | null;
}

/**
 * A POST body. A batch is classified element by element so the caller can authorize every element and refuse
 * the whole batch when any is refused: `invalidCount > 0` means at least one element is invalid. Problems of
 * the batch itself (empty, too long, two requests with one id) make the whole body invalid.
 *
 * MCP allowed batches only in revision 2025-03-26 (2025-06-18 removed them); see allowsJsonRpcBatches.
 */
export type BodyClassification =
  | { readonly kind: 'single'; readonly message: MessageClassification }
  | {
      readonly kind: 'batch';
      readonly elements: readonly MessageClassification[];
      readonly invalidCount: number;
    }
  | { readonly kind: 'invalid'; readonly reason: string };

export interface BodyLimits {
  /** Most elements in a batch; each costs an authorization. Default 100. */
  readonly maxBatchLength?: number;
}

export const DEFAULT_MAX_BATCH_LENGTH = 100;

/** Standard JSON-RPC codes and the codes MCP 2026-07-28 defines in its reserved range (-32020..-32099). */
export const JSON_RPC_ERROR_CODES = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  headerMismatch: -32020,
  missingRequiredClientCapability: -32021,
  unsupportedProtocolVersion: -32022,
} as const;

export function classifyMessage(value: unknown): MessageClassification {
  if (!isPlainObject(value)) {
    return invalid(
      Array.isArray(value) ? 'a batch cannot contain a batch' : 'a message must be a JSON object',
      null,
    );
  }
  const readableId = isJsonRpcId(value.id) ? value.id : null;
  let hasId = false;
  let hasMethod = false;
  let hasParams = false;
  let hasResult = false;
  let hasError = false;
  let hasVersion = false;
  for (const key in value) {
    if (key === 'jsonrpc') hasVersion = true;
    else if (key === 'id') hasId = true;
    else if (key === 'method') hasMethod = true;
    else if (key === 'params') hasParams = true;
    else if (key === 'result') hasResult = true;
    else if (key === 'error') hasError = true;
    else return invalid(`unexpected member ${quoteForMessage(key)}`, readableId);
  }
  if (!hasVersion || value.jsonrpc !== '2.0') return invalid('"jsonrpc" must be exactly "2.0"', readableId);

  if (hasMethod) {
    if (hasResult || hasError)
      return invalid('a message with "method" cannot carry "result" or "error"', readableId);
    const methodProblem = checkMethod(value.method);
    if (methodProblem !== undefined) return invalid(methodProblem, readableId);
    if (hasParams && !isPlainObject(value.params)) {
      const problem = Array.isArray(value.params)
        ? '"params" must be an object: MCP names its parameters and by-position (array) params are refused'
        : '"params" must be an object';
      return invalid(problem, readableId);
    }
    if (!hasId) return { kind: 'notification', message: value as unknown as JsonRpcNotification };
    const idProblem = checkId(value.id);
    if (idProblem !== undefined) return invalid(`request ${idProblem}`, null);
    return { kind: 'request', message: value as unknown as JsonRpcRequest };
  }

  if (hasParams) return invalid('unexpected member "params" in a response', readableId);
  if (hasResult && hasError) return invalid('a response carries "result" or "error", not both', readableId);
  if (hasResult) {
    if (!hasId) return invalid('a result response needs an "id"', null);
    const idProblem = checkId(value.id);
    if (idProblem !== undefined) return invalid(`response ${idProblem}`, null);
    if (!isPlainObject(value.result)) return invalid('"result" must be an object', readableId);
    return { kind: 'response', message: value as unknown as JsonRpcSuccessResponse };
  }
  if (hasError) {
    if (hasId && value.id !== null) {
      const idProblem = checkId(value.id);
      if (idProblem !== undefined) return invalid(`error response ${idProblem}`, null);
    }
    const errorProblem = checkErrorObject(value.error);
    if (errorProblem !== undefined) return invalid(errorProblem, readableId);
    return { kind: 'error-response', message: value as unknown as JsonRpcErrorResponse };
  }
  return invalid('a message needs "method", "result" or "error"', readableId);
}

export function classifyBody(value: unknown, limits?: BodyLimits): BodyClassification {
  if (!Array.isArray(value)) return { kind: 'single', message: classifyMessage(value) };
  if (value.length === 0) return { kind: 'invalid', reason: 'an empty batch' };
  const maxLength = limits?.maxBatchLength ?? DEFAULT_MAX_BATCH_LENGTH;
  if (value.length > maxLength)
    return { kind: 'invalid', reason: `a batch of more than ${maxLength} messages` };
  const elements: MessageClassification[] = new Array<MessageClassification>(value.length);
  // Ids compared as strings: 1 and "1" are different to JSON-RPC but the same key to many implementations.
  const requestIds = new Set<string>();
  let invalidCount = 0;
  for (let i = 0; i < value.length; i++) {
    const element = classifyMessage(value[i]);
    elements[i] = element;
    if (element.kind === 'invalid') {
      invalidCount++;
    } else if (element.kind === 'request') {
      const key = String(element.message.id);
      if (requestIds.has(key)) {
        return { kind: 'invalid', reason: `two requests in a batch share the id ${quoteForMessage(key)}` };
      }
      requestIds.add(key);
    }
  }
  return { kind: 'batch', elements, invalidCount };
}

/**
 * An error response. Pass the request's id when it was readable; otherwise null (JSON-RPC 2.0 and MCP up to
 * 2025-11-25) or undefined to omit the member (MCP 2026-07-28, whose schema has no null id).
 */
export function jsonRpcError(
  id: JsonRpcId | null | undefined,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcErrorResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return id === undefined ? { jsonrpc: '2.0', error } : { jsonrpc: '2.0', id, error };
}

export function isJsonRpcId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || Number.isSafeInteger(value);
}

/** An object from JSON (not an array, not a class instance): the only shape params, result and error take. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function checkId(id: unknown): string | undefined {
  if (typeof id === 'string' || Number.isSafeInteger(id)) return undefined;
  if (id === null) return '"id" must not be null';
  if (typeof id === 'number') {
    return Number.isInteger(id) ? '"id" must be an integer within ±(2^53-1)' : '"id" must not be fractional';
  }
  return '"id" must be a string or an integer';
}

function checkMethod(method: unknown): string | undefined {
  if (typeof method !== 'string' || method.length === 0) return '"method" must be a non-empty string';
  if (method.startsWith('rpc.')) return 'method names starting with "rpc." are reserved by JSON-RPC';
  return undefined;
}

function checkErrorObject(error: unknown): string | undefined {
  if (!isPlainObject(error)) return '"error" must be an object';
  for (const key in error) {
    if (key !== 'code' && key !== 'message' && key !== 'data') {
      return `unexpected member ${quoteForMessage(key)} in "error"`;
    }
  }
  if (!Number.isSafeInteger(error.code)) return '"error.code" must be an integer';
  if (typeof error.message !== 'string') return '"error.message" must be a string';
  return undefined;
}

function invalid(reason: string, id: JsonRpcId | null): InvalidMessage {
  return { kind: 'invalid', reason, id };
}
