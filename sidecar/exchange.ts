import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Verdict } from '../policy/decision.ts';
import type { LoadedPolicy } from '../policy/load.ts';
import type { Principal } from '../policy/principal.ts';
import type { CallAuditParts } from './audit/call-parts.ts';
import type { CallContract } from './contracts/call-contract.ts';
import type { Rejection } from './reject.ts';
import type { SessionRecord } from './session-store.ts';
import type { InboundTrace } from './tracing/inbound.ts';
import type { RequestTrace } from './tracing/request-trace.ts';
import type { SubjectToken } from './upstream-identity/subject-token.ts';

/**
 * The per-request record the pipeline's stages fill in order. Stages read what earlier stages wrote
 * and never reach back into the raw request for something a stage already decided.
 */
export interface JsonRpcMessageView {
  /** The message as parsed (and, for an allowed tools/call, with bound arguments). */
  readonly message: Record<string, unknown>;
  readonly kind: 'request' | 'notification' | 'response' | 'error-response';
  readonly id?: string | number;
  readonly method?: string;
}

export interface ToolCall {
  /** Index of the message in the body. */
  readonly index: number;
  readonly id: string | number;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  verdict?: Verdict;
  /** What became of an allowed call, once the upstream answered (or did not). */
  outcome?: 'ok' | 'tool_error' | 'upstream_error' | 'timeout' | 'cancelled';
  /** The tool definition the call was checked against, and what the check found (check-contracts). */
  contract?: CallContract;
  /** Strict durability: the decision is on disk already (record-decision); the end is an `outcome` event. */
  decisionRecorded?: boolean;
  /** Its final audit event is written (audit/record-exchange.ts). */
  recorded?: boolean;
  /** What its audit events share, made with the first of them (audit/call-parts.ts). */
  auditParts?: CallAuditParts;
}

export interface Exchange {
  readonly requestId: string;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** performance.now() at arrival. */
  readonly startedAt: number;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  body?: Buffer;
  messages: JsonRpcMessageView[];
  isBatch: boolean;
  /** The negotiated or declared MCP protocol revision. */
  protocolVersion?: string;
  sessionId?: string;
  session?: SessionRecord;
  principal?: Principal;
  /** jti of the verified token, for audit; never the token. */
  tokenId?: string;
  /** TokenExchange mode only: the inbound token, sealed; only the token exchanger can open it. */
  subjectToken?: SubjectToken;
  /** What the server was given instead of the client's token: the mode and its jti, never the token. */
  upstreamIdentity?: { readonly mode: string; readonly tokenId?: string };
  policy?: LoadedPolicy;
  calls: ToolCall[];
  /** Concurrency slots the limit-calls stage took; pipeline.ts releases them once, when the exchange ends. */
  slots?: { release(): void };
  /** The response is an event stream (already started): late errors go on it as events. */
  eventStream?: boolean;
  rejection?: Rejection;
  /** The audit event of a refused request without tool calls is written. */
  recorded?: boolean;
  /** The client's trace context once decided (tracing/inbound.ts); null: it sent none that parses. */
  inboundTrace?: InboundTrace | null;
  /** The request's span, only while the sidecar traces (--otlp-traces-endpoint). */
  trace?: RequestTrace;
}

export function newExchange(
  requestId: string,
  startedAt: number,
  request: IncomingMessage,
  response: ServerResponse,
): Exchange {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return {
    requestId,
    request,
    response,
    startedAt,
    method: request.method ?? 'GET',
    path: query < 0 ? url : url.slice(0, query),
    headers: request.headers,
    messages: [],
    isBatch: false,
    calls: [],
  };
}
