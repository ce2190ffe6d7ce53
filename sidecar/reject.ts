import type { DenialCode } from '../policy/decision.ts';

/**
 * The one table from a refusal code to what the client sees: HTTP status and JSON-RPC error code.
 * Application codes sit outside JSON-RPC's reserved range (-32768..-32000) so a client can tell a
 * Portcullis refusal from a server's own error; inside it only codes a specification defines (JSON-RPC's
 * parse and request errors, MCP's header-mismatch and protocol-version errors).
 */
export type RejectCode =
  | DenialCode
  | 'missing_token'
  | 'invalid_token'
  | 'auth_unavailable'
  | 'parse_error'
  | 'invalid_request'
  | 'batch_refused'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'not_acceptable'
  | 'method_not_allowed'
  | 'not_found'
  | 'forbidden_host'
  | 'forbidden_origin'
  | 'unsupported_protocol_version'
  | 'header_mismatch'
  | 'session_not_found'
  | 'policy_unavailable'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'upstream_refused'
  | 'upstream_identity_unavailable'
  | 'rate_limited'
  | 'concurrency_limited'
  | 'budget_exhausted'
  | 'response_too_large'
  | 'tool_quarantined'
  | 'audit_unavailable'
  | 'internal_error';

export interface RejectSpec {
  readonly httpStatus: number;
  readonly jsonRpcCode: number;
  /** Retrying the same request later may succeed (a Retry-After is meaningful). */
  readonly retryable: boolean;
}

export const REJECT_TABLE: Readonly<Record<RejectCode, RejectSpec>> = {
  // Identity
  missing_token: { httpStatus: 401, jsonRpcCode: -31001, retryable: false },
  invalid_token: { httpStatus: 401, jsonRpcCode: -31002, retryable: false },
  insufficient_scope: { httpStatus: 403, jsonRpcCode: -31003, retryable: false },
  // The token could not be checked (no signing keys: identity provider unreachable, its TLS not trusted,
  // its JWKS broken). Our fault, not the token's: 503 + Retry-After and no WWW-Authenticate, so clients
  // retry instead of signing in again; the cause is logged and audited, never answered.
  auth_unavailable: { httpStatus: 503, jsonRpcCode: -31004, retryable: true },
  // Policy
  no_matching_rule: { httpStatus: 403, jsonRpcCode: -31010, retryable: false },
  denied_by_rule: { httpStatus: 403, jsonRpcCode: -31011, retryable: false },
  argument_binding: { httpStatus: 403, jsonRpcCode: -31012, retryable: false },
  condition_error: { httpStatus: 403, jsonRpcCode: -31013, retryable: false },
  batch_refused: { httpStatus: 403, jsonRpcCode: -31014, retryable: false },
  killed: { httpStatus: 403, jsonRpcCode: -31020, retryable: false },
  policy_unavailable: { httpStatus: 503, jsonRpcCode: -31021, retryable: true },
  // Protocol and transport hardening
  parse_error: { httpStatus: 400, jsonRpcCode: -32700, retryable: false },
  invalid_request: { httpStatus: 400, jsonRpcCode: -32600, retryable: false },
  body_too_large: { httpStatus: 413, jsonRpcCode: -31030, retryable: false },
  unsupported_media_type: { httpStatus: 415, jsonRpcCode: -31031, retryable: false },
  not_acceptable: { httpStatus: 406, jsonRpcCode: -31032, retryable: false },
  method_not_allowed: { httpStatus: 405, jsonRpcCode: -31033, retryable: false },
  not_found: { httpStatus: 404, jsonRpcCode: -31034, retryable: false },
  forbidden_host: { httpStatus: 403, jsonRpcCode: -31035, retryable: false },
  forbidden_origin: { httpStatus: 403, jsonRpcCode: -31036, retryable: false },
  // The 2026-07-28 transport defines these two codes; we use them for every revision.
  unsupported_protocol_version: { httpStatus: 400, jsonRpcCode: -32022, retryable: false },
  header_mismatch: { httpStatus: 400, jsonRpcCode: -32020, retryable: false },
  session_not_found: { httpStatus: 404, jsonRpcCode: -31039, retryable: false },
  // Upstream
  upstream_unavailable: { httpStatus: 502, jsonRpcCode: -31040, retryable: true },
  upstream_timeout: { httpStatus: 504, jsonRpcCode: -31041, retryable: true },
  // The server answered without JSON-RPC (a text/plain 400, an HTML page): the client gets this instead,
  // with the server's own status when it refused (4xx/5xx), else 502.
  upstream_refused: { httpStatus: 502, jsonRpcCode: -31043, retryable: false },
  // No upstream token (signing key missing, identity provider down or refusing): fail closed.
  upstream_identity_unavailable: { httpStatus: 503, jsonRpcCode: -31042, retryable: true },
  // Limits (sidecar/limits/). A rate is the caller's to respect: 429 + Retry-After. A concurrency cap is
  // the server's capacity, whoever fills it: 503 + Retry-After (another replica may have room). A spent
  // budget does not come back by waiting: 429 without Retry-After. A reply over maxResponseSize will be
  // as large next time: 502, not retryable.
  rate_limited: { httpStatus: 429, jsonRpcCode: -31050, retryable: true },
  concurrency_limited: { httpStatus: 503, jsonRpcCode: -31051, retryable: true },
  budget_exhausted: { httpStatus: 429, jsonRpcCode: -31052, retryable: false },
  response_too_large: { httpStatus: 502, jsonRpcCode: -31053, retryable: false },
  // Tool contracts (sidecar/contracts/): the tool's definition is not the pinned one (or not published).
  tool_quarantined: { httpStatus: 403, jsonRpcCode: -31060, retryable: false },
  // Audit (sidecar/audit/): no call is forwarded without its evidence. A full write-ahead log (the
  // collector unreachable for long) refuses calls until the shipper frees space.
  audit_unavailable: { httpStatus: 503, jsonRpcCode: -31070, retryable: true },
  internal_error: { httpStatus: 500, jsonRpcCode: -32603, retryable: false },
};

/** A refusal as the pipeline carries it; the transport turns it into HTTP + JSON-RPC in one place. */
export interface Rejection {
  readonly code: RejectCode;
  /** What the caller reads (the JSON-RPC error message) unless publicReason is set; audited unless detail is set. */
  readonly reason: string;
  /** Internal detail for the audit event and logs, never the answer (an internal URL, a TLS error). */
  readonly detail?: string;
  /** What the caller sees instead, when it must not see all of `reason` (kill switches: no names). */
  readonly publicReason?: string;
  readonly policyHash?: string;
  readonly missingScopes?: readonly string[];
  readonly rule?: { readonly policy: string; readonly rule: string };
  /** Seconds, for 429/503 answers. */
  readonly retryAfter?: number;
  /** The tool's contract identity (digest, schema version), so a client can tell a contract change from a failure. */
  readonly tool?: {
    readonly name: string;
    readonly digest?: string;
    readonly state?: string;
    readonly schemaVersion?: string;
  };
}

export function reject(
  code: RejectCode,
  reason: string,
  extra: Omit<Rejection, 'code' | 'reason'> = {},
): Rejection {
  return { code, reason, ...extra };
}

/** The JSON-RPC error object for a refusal: stable code, readable message, machine-readable data. */
export function rejectionError(rejection: Rejection, requestId: string) {
  return {
    code: REJECT_TABLE[rejection.code].jsonRpcCode,
    message: rejection.publicReason ?? rejection.reason,
    data: {
      portcullis: {
        code: rejection.code,
        requestId,
        ...(rejection.policyHash ? { policyHash: rejection.policyHash } : {}),
        ...(rejection.rule ? { rule: rejection.rule } : {}),
        ...(rejection.missingScopes ? { missingScopes: rejection.missingScopes } : {}),
        ...(rejection.tool ? { tool: rejection.tool } : {}),
      },
    },
  };
}
