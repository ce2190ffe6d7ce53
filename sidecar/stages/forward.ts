import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { reject } from '../reject.ts';
import { relay } from '../relay.ts';
import { upstreamHeaders } from '../transports/upstream-headers.ts';
import type { UpstreamResponse } from '../transports/upstream.ts';
import type { StageResult } from './stage.ts';

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

function forwardedBody(exchange: Exchange): Buffer | string | undefined {
  if (exchange.body === undefined) return undefined;
  if (!exchange.rewritten) return exchange.body;
  const messages = exchange.messages.map((m) => m.message);
  return JSON.stringify(exchange.isBatch ? messages : messages[0]);
}

/**
 * Sends the request on and streams the answer back. A client that goes away cancels the upstream
 * request (stream close is cancellation on the modern revisions); a call that outlives its timeout is
 * cancelled the same way and answered with upstream_timeout.
 */
export async function forward(exchange: Exchange, context: SidecarContext): Promise<StageResult> {
  const body = forwardedBody(exchange);
  const abort = new AbortController();
  const onClientGone = () => {
    if (!exchange.response.writableFinished) abort.abort(new Error('client closed'));
  };
  exchange.response.once('close', onClientGone);
  const limit = timeoutMs(exchange);
  let timedOut = false;
  const timer =
    limit === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          abort.abort(new Error('call timeout'));
        }, limit);

  let upstream: UpstreamResponse;
  try {
    upstream = await context.upstream.send({
      method: exchange.method as 'POST' | 'GET' | 'DELETE',
      headers: upstreamHeaders(exchange, body === undefined ? undefined : Buffer.byteLength(body)),
      ...(body !== undefined ? { body } : {}),
      signal: abort.signal,
    });
  } catch (error) {
    clearTimeout(timer);
    for (const call of exchange.calls) call.outcome = timedOut ? 'timeout' : 'upstream_error';
    return timedOut
      ? reject('upstream_timeout', `the call did not finish within ${limit! / 1000} s and was cancelled`)
      : reject('upstream_unavailable', `the MCP server is unreachable: ${(error as Error).message}`, {
          retryAfter: 1,
        });
  }

  try {
    const outcome = await relay(exchange, context, upstream);
    if (outcome === 'too_large' && !exchange.response.headersSent) {
      return reject('upstream_unavailable', 'the MCP server answered with more than the response size limit');
    }
    if (outcome === 'client_closed') for (const call of exchange.calls) call.outcome ??= 'cancelled';
  } catch (error) {
    if (timedOut) {
      for (const call of exchange.calls) call.outcome ??= 'timeout';
      if (!exchange.response.headersSent)
        return reject(
          'upstream_timeout',
          `the call did not finish within ${limit! / 1000} s and was cancelled`,
        );
    } else if (abort.signal.aborted) {
      for (const call of exchange.calls) call.outcome ??= 'cancelled';
    } else {
      for (const call of exchange.calls) call.outcome ??= 'upstream_error';
      if (!exchange.response.headersSent)
        return reject(
          'upstream_unavailable',
          `the MCP server failed mid-answer: ${(error as Error).message}`,
        );
    }
    if (!exchange.response.writableEnded) exchange.response.destroy();
  } finally {
    clearTimeout(timer);
    exchange.response.off('close', onClientGone);
  }
  return undefined;
}
