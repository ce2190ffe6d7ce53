/** Tool-name globs: `*` matches any run of characters, `?` exactly one; everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  const body = [...pattern]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's');
}

export type NameMatcher = (name: string) => boolean;

/** One matcher for a list of exact names and globs; exact names are a set lookup. */
export function nameMatcher(patterns: readonly string[]): NameMatcher {
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)));
  const globs = patterns.filter((p) => /[*?]/.test(p)).map(globToRegExp);
  if (globs.length === 0) return (name) => exact.has(name);
  return (name) => exact.has(name) || globs.some((g) => g.test(name));
}
