/**
 * The sidecar shipper's linger bounds, shared by the sidecar (--audit-linger-ms, validated there) and the
 * operator (setting collector.shipLingerMs, which it passes as that flag): one definition, so the operator
 * cannot render a value the sidecar would refuse. Why a linger at all: sidecar/audit/ship-linger.ts.
 */
export const DEFAULT_SHIP_LINGER_MS = 100;
/** The longest an event may wait in the WAL for company before it is shipped. */
export const MAX_SHIP_LINGER_MS = 5_000;
