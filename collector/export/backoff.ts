/**
 * Exponential backoff with full jitter: a random delay up to base * 2^(attempt-1), capped, so many
 * collectors retrying one SIEM spread out. A Retry-After from the destination is a floor.
 */
export function backoffDelay(
  attempt: number,
  options: { baseMs: number; maxMs: number; random: () => number; retryAfterMs?: number | undefined },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.round(options.random() * ceiling);
  return Math.max(jittered, Math.min(options.retryAfterMs ?? 0, options.maxMs));
}
