/**
 * The JSON bounds the sidecar and the collector share, so that what a sidecar accepted as a call can always
 * be kept as evidence. Were the collector's bound tighter than the sidecar's, a caller could make an audited
 * call whose event no collector stores: a batch refused forever, a jammed shipper, a full WAL, refused calls.
 */

/**
 * Most containers (objects and arrays) open at once in a message a client sends the sidecar; `{"a":[1]}`
 * has depth 2. A tool call's arguments sit inside such a message, so they are never deeper than this.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Containers an audit event adds above the arguments value it records: the event object itself. (In the
 * message the arguments sit below two, the message and its params, so this over-allows by one: the bound
 * is for the evidence of any message the sidecar accepted, not tight.)
 */
export const AUDIT_EVENT_ENVELOPE_DEPTH = 1;

/** The collector's depth bound on one event: the arguments' bound plus the envelope. */
export const MAX_AUDIT_EVENT_DEPTH = MAX_JSON_DEPTH + AUDIT_EVENT_ENVELOPE_DEPTH;

/** Largest audit event, as JSON text: a WAL record's payload bound, and the collector's bound on one line. */
export const MAX_AUDIT_EVENT_BYTES = 4 * 1024 * 1024;
