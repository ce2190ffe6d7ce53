/**
 * How far an event's own time may be from the collector's clock. Event times are supplied by sidecars;
 * unbounded, one event dated 2099 sorted first in every newest-first listing for ever, never expired, and
 * (before followers moved to ingest order) blinded `portcullis audit -f`. Refused, not clamped: the stored
 * event is the evidence exactly as the sidecar wrote it, and a refusal is final and loud (422
 * unstorable_event; the shipper records the seq as lost, the collector reports the gap with the reason).
 */
export interface TimeBounds {
  /** The collector's clock, epoch ms. */
  readonly now: number;
  /** Latest accepted: now + this. */
  readonly maxAheadMs: number;
  /** Earliest accepted: now - this (the retention period: anything older would be deleted at once). */
  readonly maxBehindMs: number;
}

/**
 * Clocks of a cluster's nodes agree within seconds (NTP); an hour leaves room for a badly drifting node
 * while keeping a forged future time from mattering much.
 */
export const MAX_AHEAD_MS = 60 * 60 * 1000;

/** Why `time` is out of bounds, or undefined when it is within them. */
export function timeOutOfBounds(time: string, bounds: TimeBounds): string | undefined {
  const ms = Date.parse(time);
  if (ms > bounds.now + bounds.maxAheadMs) {
    return `is dated ${time}, more than ${bounds.maxAheadMs / 60_000} minutes ahead of the collector's clock`;
  }
  if (ms < bounds.now - bounds.maxBehindMs) {
    return `is dated ${time}, older than the retention period (${Math.round(bounds.maxBehindMs / 3_600_000)} h)`;
  }
  return undefined;
}
