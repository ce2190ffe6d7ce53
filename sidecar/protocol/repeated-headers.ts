/**
 * Headers that must appear at most once. Node keeps only the first of a repeated Content-Type and joins
 * repeated custom headers with ", ", while other HTTP stacks keep the last: two copies are two readings of
 * one request, so a request that carries any of these twice is refused instead of read one way. Read from
 * `rawHeaders`, the only place Node keeps every copy.
 */
const SINGLETONS = new Set([
  'host',
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'origin',
  'mcp-protocol-version',
  'mcp-session-id',
  'mcp-method',
  'mcp-name',
  'last-event-id',
]);

/** The (lower-case) name of the first singleton header that appears more than once, if any. */
export function repeatedSingletonHeader(rawHeaders: readonly string[]): string | undefined {
  let seen: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!SINGLETONS.has(name)) continue;
    seen ??= new Set();
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}
