/** kubectl's age: 45s, 12m, 5h, 3d, 2y. */
export function age(created: string | undefined, nowMs: number): string | undefined {
  if (created === undefined) return undefined;
  const ms = Date.parse(created);
  if (Number.isNaN(ms)) return undefined;
  const seconds = Math.max(0, Math.floor((nowMs - ms) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 2 * 365 * 86400) return `${Math.floor(seconds / 86400)}d`;
  return `${Math.floor(seconds / (365 * 86400))}y`;
}
