/**
 * A value from the wire, fit for an error message or a log line: JSON-quoted, so line breaks and control
 * characters cannot forge log entries, and cut short, so a hostile value cannot bloat every line it appears in.
 */
export function quoteForMessage(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
