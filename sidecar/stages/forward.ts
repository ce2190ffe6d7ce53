import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { recordCall } from '../audit/record-exchange.ts';
import { reject, rejectionError, type Rejection } from '../reject.ts';
import { formatSseEvent } from '../protocol/sse.ts';
import { responseTooLarge } from '../limits/response-size.ts';
import { relay } from '../relay.ts';
import { upstreamHeaders } from '../transports/upstream-headers.ts';
import { traceContextInMeta } from '../tracing/inbound.ts';
import { outboundTrace, withTraceMeta } from '../tracing/outbound.ts';
import type { OutboundTrace } from '../tracing/request-trace.ts';
import type { UpstreamResponse } from '../transports/upstream.ts';
import { killedSinceGate } from './killed-since-gate.ts';
import type { StageResult } from './stage.ts';

/** Why the sidecar stopped a call it had forwarded. */
export type StopReason = 'timeout' | 'killed' | 'client_closed';

/** The call timeout: the tightest of the allowing rules' timeouts, else the server default. */
function timeoutMs(exchange: Exchange): number | undefined {
  if (exchange.calls.length === 0) return undefined;
  const server = exchange.policy!.bundle.spec.limits.callTimeoutSeconds;
  const seconds = Math.min(
    ...exchange.calls.map(
      (c) => (c.verdict?.decision.allowed ? c.verdict.decision.limits?.timeoutSeconds : undefined) ?? server,
    ),
  );
  return seconds * 1000;
}

/**
 * The body the server receives: built from the parsed, checked and authorized messages (with bound
 * arguments), one canonical UTF-8 serialization, never the client's bytes. Whatever the server executes,
 * the authorizer read in exactly this form; charsets, escapes, duplicate keys, number spellings and
 * framing the client chose do not travel.
 */
function forwardedBody(exchange: Exchange, trace: OutboundTrace | undefined): Buffer | undefined {
  if (exchange.method !== 'POST') return undefined;
  // From 2026-07-28 the trace context travels in _meta too: the decided one, never the client's text.
  const inMeta = traceContextInMeta(exchange);
  const messages = exchange.messages.map((m) => (inMeta ? withTraceMeta(m.message, trace) : m.message));
  return Buffer.from(JSON.stringify(exchange.isBatch ? messages : messages[0]), 'utf8');
}

function answerOnStream(
  exchange: Exchange,
  context: SidecarContext,
  calls: readonly ToolCall[],
  rejection: Rejection,
): void {
  const { response } = exchange;
  if (response.writableEnded || response.destroyed) return;
  if (!exchange.eventStream) {
    response.destroy();
    return;
  }
  const error = rejectionError(rejection, exchange.requestId);
  for (const call of calls) recordCall(exchange, context, call); // the evidence before the answer
  for (const call of calls) {
    response.write(
      formatSseEvent({ event: 'message', data: JSON.stringify({ jsonrpc: '2.0', id: call.id, error }) }),
    );
  }
  response.end();
}

/**
 * Before 2026-07-28 a closed stream is not a cancellation (the client may resume it), so the server is
 * told explicitly with notifications/cancelled in the same session. Stateless servers saw the stream
 * close, which is their cancellation. Best effort: the answer to the client does not wait for it.
 */
function cancelOnUpstream(
  exchange: Exchange,
  context: SidecarContext,
  calls: readonly ToolCall[],
  reason: StopReason,
): void {
  if (exchange.protocolVersion === '2026-07-28' || exchange.sessionId === undefined) return;
  for (const call of calls) {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: call.id, reason },
    });
    // The notification is its own request: the call's mirrored method and name headers do not apply.
    const {
      'mcp-method': _method,
      'mcp-name': _name,
      ...headers
    } = upstreamHeaders(exchange, Buffer.byteLength(body));
    // A credential of its own, without tool scopes (Minted, TokenExchange): the call's may have expired.
    Promise.resolve(context.upstreamIdentity.credentialFor(exchange, 'session'))
      .then((credential) => {
        if ('code' in credential) throw new Error(credential.reason);
        const authorization = credential.authorization;
        return context.upstream.send({
          method: 'POST',
          headers: authorization === undefined ? headers : { ...headers, authorization },
          body,
          signal: AbortSignal.timeout(5000),
        });
      })
      .then((response) => response.cancel())
      .catch((error: unknown) =>
        context.log.warn(
          { err: error, requestId: exchange.requestId },
          'could not tell the server to cancel',
        ),
      );
  }
}

function stoppedRejection(reason: StopReason | undefined, limit: number | undefined): Rejection | undefined {
  if (reason === 'timeout')
    return reject('upstream_timeout', `the call did not finish within ${limit! / 1000} s and was cancelled`);
  if (reason === 'killed')
    return reject('killed', 'a kill switch was engaged while the call was running; it was cancelled');
  return undefined;
}

/**
 * Sends the request on and streams the answer back. The upstream request is aborted, which cancels the
 * work on the server (stream close on Streamable HTTP, notifications/cancelled on stdio), when the client
 * goes away, when the call outlives its timeout, or when a kill switch engaged mid-call covers it.
 */
export async function forward(exchange: Exchange, context: SidecarContext): Promise<StageResult> {
  // The credential the server gets instead of the client's token; without it, no call (fail closed).
  let credential = context.upstreamIdentity.credentialFor(exchange);
  if (credential instanceof Promise) credential = await credential;
  if ('code' in credential) return credential;
  // The last moment before the server can see the call; from here a kill switch cancels it (inFlight).
  const killed = killedSinceGate(exchange, context, 'waited to be forwarded');
  if (killed !== undefined) return killed;
  exchange.upstreamIdentity = credential.identity;
  const trace = outboundTrace(exchange);
  const body = forwardedBody(exchange, trace);
  const abort = new AbortController();
  let stopped: StopReason | undefined;
  const stop = (reason: StopReason) => {
    stopped ??= reason;
    abort.abort(new Error(reason));
  };
  const onClientGone = () => {
    if (!exchange.response.writableFinished) stop('client_closed');
  };
  exchange.response.once('close', onClientGone);
  const limit = timeoutMs(exchange);
  const timer = limit === undefined ? undefined : setTimeout(() => stop('timeout'), limit);
  if (exchange.calls.length > 0) context.inFlight.set(exchange, () => stop('killed'));
  const outcome = (fallback: 'upstream_error') =>
    stopped === 'timeout' ? 'timeout' : stopped === undefined ? fallback : 'cancelled';

  try {
    let upstream: UpstreamResponse;
    try {
      const headers = upstreamHeaders(exchange, body?.length);
      if (credential.authorization !== undefined) headers['authorization'] = credential.authorization;
      if (trace !== undefined) {
        headers['traceparent'] = trace.traceparent;
        if (trace.tracestate !== undefined) headers['tracestate'] = trace.tracestate;
      }
      upstream = await context.upstream.send({
        method: exchange.method as 'POST' | 'GET' | 'DELETE',
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: abort.signal,
      });
    } catch (error) {
      for (const call of exchange.calls) call.outcome = outcome('upstream_error');
      return (
        stoppedRejection(stopped, limit) ??
        reject('upstream_unavailable', `the MCP server is unreachable: ${(error as Error).message}`, {
          retryAfter: 1,
        })
      );
    }
    abort.signal.addEventListener('abort', () => upstream.cancel(), { once: true });
    let failure: Error | undefined;
    try {
      const result = await relay(exchange, context, upstream, abort.signal);
      if (result === 'too_large') {
        // Refused whole (JSON, nothing sent yet), or cut mid-stream with an error for each unanswered call.
        const rejection = responseTooLarge(exchange.policy, exchange.response.headersSent);
        const unanswered = exchange.calls.filter((call) => call.outcome === undefined);
        for (const call of unanswered) call.outcome = 'upstream_error';
        if (!exchange.response.headersSent) return rejection;
        exchange.rejection = rejection;
        answerOnStream(exchange, context, unanswered, rejection);
        return undefined;
      }
      // A stream that ended without a call's reply: the call was cancelled (by the client's
      // notifications/cancelled, or by the client going away).
      if (
        (stopped === undefined || stopped === 'client_closed') &&
        (result === 'client_closed' || result === 'complete')
      ) {
        for (const call of exchange.calls) call.outcome ??= 'cancelled';
      }
    } catch (error) {
      failure = error as Error;
    }
    if (failure === undefined && (stopped === undefined || stopped === 'client_closed')) return undefined;
    const unanswered = exchange.calls.filter((call) => call.outcome === undefined);
    if (stopped === 'timeout' || stopped === 'killed')
      cancelOnUpstream(exchange, context, unanswered, stopped);
    for (const call of unanswered) call.outcome = outcome('upstream_error');
    const rejection =
      stoppedRejection(stopped, limit) ??
      reject(
        'upstream_unavailable',
        `the MCP server failed mid-answer: ${failure?.message ?? 'stream ended'}`,
      );
    if (!exchange.response.headersSent) return rejection;
    // Mid-stream: answer each unanswered request on the stream itself, then close it.
    exchange.rejection = rejection;
    answerOnStream(exchange, context, unanswered, rejection);
    return undefined;
  } finally {
    clearTimeout(timer);
    exchange.trace?.endUpstream(exchange);
    context.inFlight.delete(exchange);
    exchange.response.off('close', onClientGone);
  }
}
