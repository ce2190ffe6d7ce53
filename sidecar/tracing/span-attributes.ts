import type { Exchange } from '../exchange.ts';
import { REJECT_TABLE } from '../reject.ts';

/**
 * What a request's spans say, after OpenTelemetry's semantic conventions for MCP (development status:
 * mcp.*, gen_ai.tool.name, gen_ai.operation.name, jsonrpc.request.id, error.type). Identities and
 * arguments stay out: traces go to a general observability backend, the audit trail is where who
 * called what with which arguments is kept (and the audit event carries the trace id to join them).
 */
export type SpanAttributes = Record<string, string | number | boolean>;

/** `{mcp.method.name} {tool}` for a tool call, the method otherwise, the HTTP method without one. */
export function spanName(exchange: Exchange): string {
  const method = exchange.messages[0]?.method;
  if (method === undefined) return exchange.method;
  const tool = exchange.calls.length === 1 ? exchange.calls[0]!.tool : undefined;
  return tool === undefined ? method : `${method} ${tool}`;
}

/** Attributes both spans share: what was asked. */
export function requestAttributes(exchange: Exchange): SpanAttributes {
  const attributes: SpanAttributes = {
    'network.transport': 'tcp',
    'network.protocol.name': 'http',
    'portcullis.request.id': exchange.requestId,
  };
  const first = exchange.messages[0];
  if (first?.method !== undefined) attributes['mcp.method.name'] = first.method;
  if (first?.id !== undefined && exchange.messages.length === 1)
    attributes['jsonrpc.request.id'] = String(first.id);
  if (exchange.messages.length > 1) attributes['portcullis.batch.size'] = exchange.messages.length;
  if (exchange.calls.length === 1) {
    attributes['gen_ai.tool.name'] = exchange.calls[0]!.tool;
    attributes['gen_ai.operation.name'] = 'execute_tool';
  }
  if (exchange.protocolVersion !== undefined) attributes['mcp.protocol.version'] = exchange.protocolVersion;
  if (exchange.sessionId !== undefined) attributes['mcp.session.id'] = exchange.sessionId;
  return attributes;
}

/** Why the request failed, if it did: the refusal's stable code, or what became of a call upstream. */
export function errorType(exchange: Exchange): string | undefined {
  if (exchange.rejection) return exchange.rejection.code;
  for (const call of exchange.calls)
    if (call.outcome !== undefined && call.outcome !== 'ok') return call.outcome;
  return undefined;
}

/** The server span's own attributes, once the request is over: the decision and why. */
export function decisionAttributes(exchange: Exchange): SpanAttributes {
  const attributes = requestAttributes(exchange);
  const rejection = exchange.rejection;
  const error = errorType(exchange);
  attributes['portcullis.decision'] = rejection
    ? rejection.code === 'killed'
      ? 'killed'
      : 'refused'
    : 'allowed';
  if (error !== undefined) attributes['error.type'] = error;
  if (rejection) attributes['rpc.response.status_code'] = String(REJECT_TABLE[rejection.code].jsonRpcCode);
  const policy = rejection?.policyHash ?? exchange.policy?.hash;
  if (policy !== undefined) attributes['portcullis.policy.hash'] = policy;
  const server = exchange.policy?.bundle.server;
  if (server !== undefined) attributes['portcullis.server'] = `${server.namespace}/${server.name}`;
  if (exchange.inboundTrace) attributes['portcullis.trace_context.carrier'] = exchange.inboundTrace.carrier;
  return attributes;
}
