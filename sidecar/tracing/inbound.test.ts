import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { newExchange, type Exchange } from '../exchange.ts';
import { inboundTrace } from './inbound.ts';
import { outboundTrace, withTraceMeta } from './outbound.ts';

const HEADER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const META_TRACE = '0af7651916cd43dd8448eb211c80319c';
const HEADER = `00-${HEADER_TRACE}-00f067aa0ba902b7-01`;
const META = `00-${META_TRACE}-b7ad6b7169203331-01`;

/** An exchange as the stages leave it after check-protocol: headers, revision, one parsed message. */
function exchangeOf(
  headers: IncomingHttpHeaders,
  revision: string | undefined,
  meta?: Record<string, unknown>,
): Exchange {
  const request = { method: 'POST', url: '/mcp', headers } as IncomingMessage;
  const exchange = newExchange('r-1', 0, request, {} as ServerResponse);
  if (revision !== undefined) exchange.protocolVersion = revision;
  exchange.messages.push({
    kind: 'request',
    id: 1,
    method: 'tools/call',
    message: {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'x', ...(meta ? { _meta: meta } : {}) },
    },
  });
  return exchange;
}

describe('inboundTrace', () => {
  it('takes the header before 2026-07-28, whatever _meta says', () => {
    const exchange = exchangeOf({ traceparent: HEADER, tracestate: 'a=1' }, '2025-11-25', {
      traceparent: META,
    });
    expect(inboundTrace(exchange)).toEqual({
      parent: { traceId: HEADER_TRACE, spanId: '00f067aa0ba902b7', flags: 1 },
      state: 'a=1',
      carrier: 'header',
    });
  });

  it('prefers params._meta from 2026-07-28, with its own tracestate only', () => {
    const exchange = exchangeOf({ traceparent: HEADER, tracestate: 'a=1' }, '2026-07-28', {
      traceparent: META,
    });
    expect(inboundTrace(exchange)).toEqual({
      parent: { traceId: META_TRACE, spanId: 'b7ad6b7169203331', flags: 1 },
      carrier: 'meta',
    });
  });

  it('falls back to a valid header when _meta holds a malformed traceparent', () => {
    const exchange = exchangeOf({ traceparent: HEADER }, '2026-07-28', { traceparent: META.toUpperCase() });
    expect(inboundTrace(exchange)?.carrier).toBe('header');
  });

  it('ignores what does not parse: repeated headers, zero ids, a tracestate without a parent', () => {
    expect(inboundTrace(exchangeOf({ traceparent: `${HEADER}, ${HEADER}` }, undefined))).toBeUndefined();
    expect(
      inboundTrace(exchangeOf({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }, undefined)),
    ).toBeUndefined();
    expect(inboundTrace(exchangeOf({ tracestate: 'a=1' }, undefined))).toBeUndefined();
    const badState = inboundTrace(exchangeOf({ traceparent: HEADER, tracestate: 'A=1' }, undefined));
    expect(badState?.state).toBeUndefined();
  });

  it('decides once per exchange', () => {
    const exchange = exchangeOf({ traceparent: HEADER }, '2026-07-28');
    expect(inboundTrace(exchange)?.carrier).toBe('header');
    exchange.messages[0]!.message['params'] = { _meta: { traceparent: META } };
    expect(inboundTrace(exchange)?.carrier).toBe('header');
  });
});

describe('what the server is sent with tracing off', () => {
  it('is the client context re-formatted from its parsed fields', () => {
    const exchange = exchangeOf({ traceparent: `cc-${HEADER_TRACE}-00f067aa0ba902b7-01-later` }, undefined);
    expect(outboundTrace(exchange)).toEqual({ traceparent: HEADER });
  });

  it('is nothing when the client sent nothing valid', () => {
    expect(outboundTrace(exchangeOf({ traceparent: HEADER.toUpperCase() }, undefined))).toBeUndefined();
  });
});

describe('withTraceMeta', () => {
  const message = (meta?: Record<string, unknown>) => exchangeOf({}, '2026-07-28', meta).messages[0]!.message;

  it('replaces the client trace keys and keeps the other _meta keys', () => {
    const original = message({ traceparent: 'garbage', tracestate: 'x', progressToken: 7 });
    const sent = withTraceMeta(original, { traceparent: HEADER, tracestate: 'a=1' });
    expect((sent['params'] as Record<string, unknown>)['_meta']).toEqual({
      progressToken: 7,
      traceparent: HEADER,
      tracestate: 'a=1',
    });
    // The parsed message the stages decided on is not changed.
    expect((original['params'] as Record<string, unknown>)['_meta']).toMatchObject({
      traceparent: 'garbage',
    });
  });

  it('removes trace keys the sidecar did not accept when there is nothing to send', () => {
    const sent = withTraceMeta(message({ traceparent: 'garbage', baggage: 'k=v' }), undefined);
    expect((sent['params'] as Record<string, unknown>)['_meta']).toEqual({ baggage: 'k=v' });
  });

  it('leaves a message without trace keys as it is (no copy)', () => {
    const original = message({ progressToken: 1 });
    expect(withTraceMeta(original, undefined)).toBe(original);
  });
});
