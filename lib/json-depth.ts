/**
 * The nesting depth of JSON text, measured without parsing (so without recursion: a value thousands of
 * levels deep cannot exhaust the stack here, while JSON.stringify or a recursive walk of it would). Counts
 * `[` and `{` outside strings; stops and answers `limit + 1` as soon as the depth passes `limit`, so a
 * hostile text costs one pass at most. Meant for text JSON.parse accepts; on other text the answer is
 * still a bound of its brackets, never an exception.
 */
export function jsonDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return deepest;
}

/**
 * Whether JSON text nests deeper than `limit`: jsonDepth's answer, usually without its character-by-character
 * walk. Nesting can be no deeper than the number of `{` and `[` in the text (those inside strings included),
 * and counting them is a handful of native indexOf scans; only text with more brackets than `limit` is walked.
 * (The walk was ~30 % of the collector's parsing time for ordinary ~700-byte events with four or five brackets.)
 */
export function exceedsJsonDepth(text: string, limit: number): boolean {
  let opens = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++opens > limit) return jsonDepth(text, limit) > limit;
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
