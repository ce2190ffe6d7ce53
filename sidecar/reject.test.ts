import { describe, expect, it } from 'vitest';
import { REJECT_TABLE, reject, rejectionError, type RejectCode } from './reject.ts';

/** The one table from refusal to wire: stable, distinct, and outside JSON-RPC's reserved range. */
const entries = Object.entries(REJECT_TABLE) as [RejectCode, (typeof REJECT_TABLE)[RejectCode]][];
const STANDARD: Partial<Record<RejectCode, number>> = {
  parse_error: -32700,
  invalid_request: -32600,
  internal_error: -32603,
  header_mismatch: -32020,
  unsupported_protocol_version: -32022,
};

describe('REJECT_TABLE', () => {
  it.each(entries)('%s has an application code outside -32768..-32000, or the standard one', (code, spec) => {
    if (code in STANDARD) expect(spec.jsonRpcCode).toBe(STANDARD[code]);
    else {
      expect(spec.jsonRpcCode < -32768 || spec.jsonRpcCode > -32000).toBe(true);
      expect(spec.jsonRpcCode).toBeGreaterThanOrEqual(-31099);
      expect(spec.jsonRpcCode).toBeLessThanOrEqual(-31001);
    }
  });

  it.each(entries)('%s answers with an HTTP client or server error status', (_code, spec) => {
    expect(Number.isInteger(spec.httpStatus)).toBe(true);
    expect(spec.httpStatus).toBeGreaterThanOrEqual(400);
    expect(spec.httpStatus).toBeLessThan(600);
  });

  it('gives every refusal its own JSON-RPC code, so a client can tell them apart', () => {
    const codes = entries.map(([, spec]) => spec.jsonRpcCode);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('calls retryable only what a later retry can fix: server-side conditions and rates', () => {
    for (const [code, spec] of entries) {
      if (spec.retryable)
        expect([code, spec.httpStatus >= 500 || spec.httpStatus === 429]).toEqual([code, true]);
    }
    expect(REJECT_TABLE.policy_unavailable).toMatchObject({ httpStatus: 503, retryable: true });
  });

  it('answers limits with 429 or 503, and only a rate or a full server with Retry-After', () => {
    expect(REJECT_TABLE.rate_limited).toMatchObject({ httpStatus: 429, retryable: true });
    expect(REJECT_TABLE.concurrency_limited).toMatchObject({ httpStatus: 503, retryable: true });
    expect(REJECT_TABLE.budget_exhausted).toMatchObject({ httpStatus: 429, retryable: false });
    expect(REJECT_TABLE.response_too_large).toMatchObject({ httpStatus: 502, retryable: false });
  });

  it('keeps the statuses the transport contract fixes', () => {
    expect(REJECT_TABLE.missing_token.httpStatus).toBe(401);
    expect(REJECT_TABLE.invalid_token.httpStatus).toBe(401);
    expect(REJECT_TABLE.insufficient_scope.httpStatus).toBe(403);
    expect(REJECT_TABLE.session_not_found.httpStatus).toBe(404);
    expect(REJECT_TABLE.header_mismatch.httpStatus).toBe(400);
  });

  it('answers a token the sidecar could not check (no signing keys) 503, retryable, not 401', () => {
    expect(REJECT_TABLE.auth_unavailable).toEqual({ httpStatus: 503, jsonRpcCode: -31004, retryable: true });
  });
});

describe('rejectionError', () => {
  it('shows the caller the public reason when there is one (kill switches: no names), the audit keeps reason', () => {
    const rejection = reject('killed', 'kill switch on tool x: alice: SEC-1 long story', {
      publicReason: 'kill switch on tool x: SEC-1 long story',
    });
    const error = rejectionError(rejection, 'r1');
    expect(error.message).toBe('kill switch on tool x: SEC-1 long story');
    expect(JSON.stringify(error)).not.toContain('alice');
    expect(error.data.portcullis.code).toBe('killed');
    expect(rejectionError(reject('killed', 'plain'), 'r2').message).toBe('plain');
  });

  it('carries the stable code and request id, and only the details there are', () => {
    expect(rejectionError(reject('missing_token', 'no token'), 'req-1')).toEqual({
      code: -31001,
      message: 'no token',
      data: { portcullis: { code: 'missing_token', requestId: 'req-1' } },
    });
  });

  it('never answers the internal detail (it is for the audit event and logs)', () => {
    const rejection = reject('auth_unavailable', 'retry later', {
      detail: 'signing keys unavailable: https://idp.internal/jwks: unable to verify the first certificate',
      retryAfter: 7,
    });
    const answered = JSON.stringify(rejectionError(rejection, 'req-3'));
    expect(answered).not.toContain('idp.internal');
    expect(answered).not.toContain('certificate');
    expect(rejectionError(rejection, 'req-3')).toEqual({
      code: -31004,
      message: 'retry later',
      data: { portcullis: { code: 'auth_unavailable', requestId: 'req-3' } },
    });
  });

  it('carries the deciding policy hash, rule and missing scopes when there are', () => {
    const rejection = reject('insufficient_scope', 'needs a scope', {
      policyHash: 'sha256:abc',
      rule: { policy: 'p', rule: 'r' },
      missingScopes: ['billing:refunds:write'],
      retryAfter: 3,
    });
    expect(rejectionError(rejection, 'req-2')).toEqual({
      code: -31003,
      message: 'needs a scope',
      data: {
        portcullis: {
          code: 'insufficient_scope',
          requestId: 'req-2',
          policyHash: 'sha256:abc',
          rule: { policy: 'p', rule: 'r' },
          missingScopes: ['billing:refunds:write'],
        },
      },
    });
  });
});
