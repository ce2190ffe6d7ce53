/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/), read strictly. A trace context is a hint
 * for observability, never an input to a decision: one that does not parse is ignored (the request goes
 * on, in a trace of its own), and nothing of it travels on as the client wrote it. What the sidecar
 * sends on is formatted here from the parsed fields.
 *
 *   traceparent  version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex: 2-32-16-2
 *   tracestate   up to 32 comma-separated key=value members, keys unique
 */

/** A parsed traceparent: the caller's trace and the span the request was sent from. */
export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the caller's span. */
  readonly spanId: string;
  /** trace-flags; bit 0 is "sampled". */
  readonly flags: number;
}

export type TraceParentProblem =
  'missing' | 'repeated' | 'malformed' | 'invalid_version' | 'zero_trace_id' | 'zero_parent_id';

export type TraceParentParse =
  | { readonly ok: true; readonly value: TraceParent }
  | { readonly ok: false; readonly problem: TraceParentProblem };

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** A later version: the same four fields first, then anything after a dash (the spec's forward rule). */
const LATER_VERSION = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** Longer than any traceparent this sidecar has reason to read (a later version's extra fields). */
const MAX_TRACEPARENT = 256;

/**
 * Parses a traceparent value as Node's `request.headers` or a parsed `_meta` gives it. Node joins a
 * repeated traceparent header into one ", "-separated string, which fails the grammar: two parents are
 * no parent (the spec's rule). Uppercase hex, whitespace, version ff, all-zero ids and version 00 with
 * extra fields are all refused.
 */
export function parseTraceParent(value: unknown): TraceParentParse {
  if (value === undefined) return { ok: false, problem: 'missing' };
  if (Array.isArray(value)) return { ok: false, problem: 'repeated' };
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT) return { ok: false, problem: 'malformed' };
  let fields = VERSION_00.exec(value);
  let traceId: string, spanId: string, flags: string;
  if (fields !== null) {
    [, traceId, spanId, flags] = fields as unknown as [string, string, string, string];
  } else {
    fields = LATER_VERSION.exec(value);
    if (fields === null) return { ok: false, problem: 'malformed' };
    const version = fields[1]!;
    if (version === '00') return { ok: false, problem: 'malformed' }; // 00 has exactly four fields
    if (version === 'ff') return { ok: false, problem: 'invalid_version' };
    [, , traceId, spanId, flags] = fields as unknown as [string, string, string, string, string];
  }
  if (traceId === ZERO_TRACE_ID) return { ok: false, problem: 'zero_trace_id' };
  if (spanId === ZERO_SPAN_ID) return { ok: false, problem: 'zero_parent_id' };
  return { ok: true, value: { traceId, spanId, flags: Number.parseInt(flags, 16) } };
}

/** Version 00, whatever version it was read from: the version this sidecar speaks. */
export function formatTraceParent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.flags & 0xff).toString(16).padStart(2, '0')}`;
}

const MEMBER_KEY = /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
// Printable ASCII except "," and "="; it may contain spaces but not end with one.
const MEMBER_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_MEMBERS = 32;
const MAX_TRACESTATE = 512;

/**
 * Parses tracestate into its normal form (members joined by ","), or undefined when it breaks the
 * grammar anywhere: the whole header is then dropped rather than partly passed on. Repeated headers,
 * which Node joins with ", ", are one list, as the specification says.
 */
export function parseTraceState(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_TRACESTATE) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of value.split(',')) {
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (member === '') continue; // empty list members are allowed and skipped
    const equals = member.indexOf('=');
    if (equals <= 0) return undefined;
    const key = member.slice(0, equals);
    const memberValue = member.slice(equals + 1);
    if (!MEMBER_KEY.test(key) || !MEMBER_VALUE.test(memberValue) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(member);
  }
  if (members.length === 0 || members.length > MAX_MEMBERS) return undefined;
  return members.join(',');
}
