import { describe, expect, it } from 'vitest';
import { auditEventDraft } from '../../api/audit/v1/event.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange, ToolCall } from '../exchange.ts';
import { argumentsDigest } from './event.ts';
import { auditEvents, callAuditEvent } from './record.ts';

const HASH = 'sha256:3f1c0f0e1b7a6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a392817060504';
let now = Date.parse('2026-12-07T10:00:00.000Z');
const context = { clock: () => now, policy: { current: undefined } } as unknown as SidecarContext;

function allowedCall(auditArguments: 'Digest' | 'Full' | 'Redacted' = 'Digest') {
  const args = { tenant: 'acme', card: { number: '4111', holder: 'A' } };
  const call: ToolCall = {
    index: 0,
    id: 1,
    tool: 'charge',
    args,
    verdict: {
      decision: {
        allowed: true,
        rule: { policy: 'billing', rule: 'charge' },
        policyHash: HASH,
        args: { ...args, tenant: 'acme' },
      },
    } as unknown as ToolCall['verdict'],
  };
  const exchange = {
    requestId: 'req-1',
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    messages: [],
    principal: { user: 'alice', agent: 'copilot', tenant: 'acme' },
    sessionId: 'sess-1',
    policy: {
      hash: HASH,
      bundle: {
        server: { namespace: 'finance', name: 'billing' },
        spec: {
          audit: { arguments: auditArguments, redact: ['card.number'] },
          upstreamAuth: { mode: 'Minted' },
        },
        policies: [{ name: 'billing' }],
      },
    },
    calls: [call],
  } as unknown as Exchange;
  return { exchange, call };
}

/** The event a call's decision and outcome recorded before issue #14, field for field and in order. */
function expected(fields: Record<string, unknown>, outcome?: Record<string, unknown>) {
  return {
    schema: 'portcullis.dev/audit/v1',
    time: fields['time'],
    requestId: 'req-1',
    server: { namespace: 'finance', name: 'billing' },
    user: 'alice',
    agent: 'copilot',
    tenant: 'acme',
    latencyMs: fields['latencyMs'],
    sessionId: 'sess-1',
    traceId: '0af7651916cd43dd8448eb211c80319c',
    id: fields['id'],
    kind: fields['kind'],
    method: 'tools/call',
    tool: 'charge',
    decision: 'allowed',
    rule: { policy: 'billing', rule: 'charge' },
    policyHash: HASH,
    argumentsDigest: argumentsDigest({ tenant: 'acme', card: { number: '4111', holder: 'A' } }),
    ...outcome,
    upstreamIdentity: fields['upstreamIdentity'],
  };
}

describe('callAuditEvent', () => {
  it('writes the decision and then the outcome, with the same fields in the same order as ever', () => {
    const { exchange, call } = allowedCall();
    const decision = callAuditEvent(exchange, context, call);
    expect(JSON.stringify(decision)).toBe(
      JSON.stringify(expected({ ...decision, upstreamIdentity: { mode: 'Minted' } })),
    );
    expect(auditEventDraft.parse(decision)).toEqual(decision);

    // While the call runs: time passes, the upstream identity is minted, the server answers.
    call.decisionRecorded = true;
    now += 1500;
    exchange.upstreamIdentity = { mode: 'Minted', tokenId: 'jti-1' };
    call.outcome = 'ok';
    const outcome = callAuditEvent(exchange, context, call, 12.5);
    expect(JSON.stringify(outcome)).toBe(
      JSON.stringify(
        expected({ ...outcome, upstreamIdentity: { mode: 'Minted', tokenId: 'jti-1' } }, { outcome: 'ok' }),
      ),
    );
    expect(outcome).toMatchObject({ kind: 'outcome', latencyMs: 12.5, time: '2026-12-07T10:00:01.500Z' });
    expect(outcome.id).not.toBe(decision.id);
  });

  it('builds the outcome from the decision: one digest and one redacted copy per call', () => {
    const { exchange, call } = allowedCall('Redacted');
    const decision = callAuditEvent(exchange, context, call);
    call.decisionRecorded = true;
    call.outcome = 'tool_error';
    const outcome = callAuditEvent(exchange, context, call, 3);
    expect(decision.arguments).toEqual({ tenant: 'acme', card: { number: '[redacted]', holder: 'A' } });
    expect(outcome.arguments).toBe(decision.arguments);
    expect(outcome.argumentsDigest).toBe(decision.argumentsDigest);
    expect(outcome).toMatchObject({ decision: 'allowed', outcome: 'tool_error' });
  });

  it('records what changed while the call ran: an upstream failure turns the outcome errored, with its code', () => {
    const { exchange, call } = allowedCall();
    callAuditEvent(exchange, context, call);
    call.decisionRecorded = true;
    call.outcome = 'timeout';
    exchange.rejection = {
      code: 'upstream_timeout',
      reason: 'the server did not answer',
    } as Exchange['rejection'];
    const outcome = callAuditEvent(exchange, context, call, 30_000);
    expect(outcome).toMatchObject({
      kind: 'outcome',
      decision: 'errored',
      code: 'upstream_timeout',
      reason: 'the server did not answer',
      outcome: 'timeout',
    });
    // code and reason stand after the decision, where a refusal's always stood
    const keys = Object.keys(outcome);
    expect(keys.indexOf('code')).toBe(keys.indexOf('decision') + 1);
  });

  it('adds no field a call does not have (no principal, session or trace)', () => {
    const { exchange, call } = allowedCall();
    const bare = { ...exchange, principal: undefined, sessionId: undefined, headers: {} } as Exchange;
    const event = callAuditEvent(bare, context, call);
    for (const absent of ['user', 'agent', 'tenant', 'sessionId', 'clientInfo', 'traceId', 'spanId', 'code'])
      expect(Object.hasOwn(event, absent)).toBe(false);
  });

  it('still records a refused request without tool calls', () => {
    const { exchange } = allowedCall();
    const refused = {
      ...exchange,
      calls: [],
      method: 'POST',
      rejection: { code: 'unauthenticated', reason: 'no token' },
    } as unknown as Exchange;
    const [event] = auditEvents(refused, context, 2);
    expect(event).toMatchObject({
      kind: 'request',
      decision: 'denied',
      code: 'unauthenticated',
      server: { namespace: 'finance', name: 'billing' },
      user: 'alice',
      outcome: 'refused',
    });
    expect(auditEventDraft.parse(event)).toEqual(event);
  });
});
