import { z } from 'zod';
import { parseDuration } from '../../collector/duration.ts';

const rfc3339 = z.iso.datetime({ offset: true });

/**
 * A --since/--until value as the RFC 3339 instant the query API takes: a duration means that long
 * before `nowMs` (7d: seven days ago; the collector's units ms s m h d, combinable as in 1h30m), anything
 * else must already be RFC 3339 with a zone (2026-01-31T09:00:00Z or +01:00) and is passed on unchanged,
 * so its precision is kept. Undefined when the text is neither.
 */
export function parseTimeFlag(text: string, nowMs: number): string | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined) {
    const instant = nowMs - ago;
    // Date accepts ±8.64e15 ms; a duration of a million years is a typo, not a query.
    return Number.isFinite(instant) && Math.abs(instant) <= 8.64e15
      ? new Date(instant).toISOString()
      : undefined;
  }
  return rfc3339.safeParse(text).success ? text : undefined;
}

/** Milliseconds since the epoch of an RFC 3339 instant (sub-millisecond digits dropped). */
export function instantMs(rfc3339Text: string): number {
  return Date.parse(rfc3339Text);
}
