/**
 * JSON for a security boundary: the sidecar decides on what it parsed, the upstream acts on what it parses, and
 * any text the two could read differently is a way past policy. So we accept exactly I-JSON (RFC 7493) and refuse,
 * rather than guess at, everything parsers disagree on:
 *
 * - duplicate object member names, at any depth, compared after unescaping (`"a"` and `"\u0061"` collide):
 *   JSON.parse keeps the last, other parsers keep the first or merge;
 * - the member names `__proto__`, `constructor` and `prototype`, at any depth: harmless in JSON.parse output but
 *   prototype pollution in every consumer that later copies or merges the value;
 * - unpaired UTF-16 surrogates, raw or escaped (`"\ud800"`): some parsers keep them, some substitute U+FFFD (so
 *   two different names become equal), some refuse. Reported as `syntax` (I-JSON forbids them);
 * - numbers outside the double range (`1e400`): JSON.parse makes them Infinity, which re-serialises as `null`.
 *   Reported as `syntax`;
 * - everything that is not JSON: NaN/Infinity, comments, single quotes, trailing commas, leading zeros,
 *   control characters in strings, trailing garbage, and a leading byte order mark (RFC 8259 8.1 forbids
 *   sending one; JSON.parse refuses it too). Whitespace is the four JSON characters only;
 * - nesting deeper than `maxDepth`, and more than `maxKeys` object members in the whole text.
 *
 * Not refused: integers beyond 2^53 and decimals beyond double precision are rounded exactly as JSON.parse
 * rounds them. A caller that must not let the upstream see digits the policy did not see should forward
 * `JSON.stringify(value)` rather than the original text.
 *
 * Two paths, one verdict. The fast path lets V8's JSON.parse do the grammar, then proves the rest cheaply:
 * a walk of the value (depth, forbidden names, finite numbers, well-formed strings) and one pass over the text
 * counting member separators, which equals the number of members in the value exactly when no object had a
 * duplicate name. Anything the fast path cannot prove goes to the exact scanner (strict-json-scanner.ts), which
 * decides and says where. The fast path only ever says "certainly fine", so it can cost speed, never safety.
 */
import { MAX_JSON_DEPTH } from '../../lib/json-limits.ts';
import { findStrictJsonError, isForbiddenKey } from './strict-json-scanner.ts';

export type StrictJsonErrorCode = 'syntax' | 'duplicate_key' | 'forbidden_key' | 'too_deep' | 'too_many_keys';

export interface StrictJsonError {
  readonly code: StrictJsonErrorCode;
  readonly message: string;
  /** UTF-16 code unit offset into the text. */
  readonly position: number;
}

export type StrictJsonResult =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: StrictJsonError };

export interface StrictJsonLimits {
  /** Most containers (objects and arrays) open at once; `{"a":[1]}` has depth 2. Default 64. */
  readonly maxDepth?: number;
  /** Most object members in the whole text (not per object): bounds the work a hostile body causes. */
  readonly maxKeys?: number;
}

/** The depth limit shared with the collector (lib/json-limits.ts): what is accepted here can be kept as evidence. */
export const DEFAULT_MAX_DEPTH = MAX_JSON_DEPTH;

/** The fast path's walk recurses; above this configured depth only the iterative scanner runs. */
const FAST_PATH_MAX_DEPTH = 512;

export function parseStrictJson(text: string, limits?: StrictJsonLimits): StrictJsonResult {
  const maxDepth = limits?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxKeys = limits?.maxKeys ?? Infinity;
  let value: unknown;
  let parsed = false;
  try {
    value = JSON.parse(text);
    parsed = true;
  } catch {
    // Not JSON; the scanner below says why and where.
  }
  if (parsed && maxDepth <= FAST_PATH_MAX_DEPTH && isCertainlyStrict(text, value, maxDepth, maxKeys)) {
    return { ok: true, value };
  }
  let error: StrictJsonError | undefined;
  try {
    error = findStrictJsonError(text, maxDepth, maxKeys);
  } catch (thrown) {
    error = internalError(`the scanner threw ${String(thrown)}`);
  }
  if (error !== undefined) return { ok: false, error };
  // The scanner accepts: the fast path was only unsure (e.g. a surrogate pair written as escapes).
  if (parsed) return { ok: true, value };
  return { ok: false, error: internalError('JSON.parse refused a text the scanner accepts') };
}

/** Escaped surrogates (paired or not) need a per-string check; a false match only costs that check. */
const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;

function isCertainlyStrict(text: string, value: unknown, maxDepth: number, maxKeys: number): boolean {
  // A raw lone surrogate is refused even where an escape next to it would complete the pair.
  if (!text.isWellFormed()) return false;
  const checkStrings = ESCAPED_SURROGATE.test(text);
  const members = countMembersInValue(value, 0, maxDepth, checkStrings);
  return members >= 0 && members <= maxKeys && members === countMembersInText(text);
}

/**
 * Members of all objects in `value`, or -1 when the value is too deep, has a forbidden name, a non-finite number
 * or (when asked) a string that is not well-formed UTF-16. Recursion is bounded by maxDepth.
 */
function countMembersInValue(value: unknown, depth: number, maxDepth: number, checkStrings: boolean): number {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'number') return Number.isFinite(value) ? 0 : -1;
    if (checkStrings && typeof value === 'string') return value.isWellFormed() ? 0 : -1;
    return 0;
  }
  if (depth >= maxDepth) return -1;
  let members = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = countMembersInValue(value[i], depth + 1, maxDepth, checkStrings);
      if (inner < 0) return -1;
      members += inner;
    }
    return members;
  }
  // JSON.parse objects have Object.prototype, which has no enumerable members: for-in sees own names only.
  for (const key in value) {
    if (isForbiddenKey(key) || (checkStrings && !key.isWellFormed())) return -1;
    const inner = countMembersInValue(
      (value as Record<string, unknown>)[key],
      depth + 1,
      maxDepth,
      checkStrings,
    );
    if (inner < 0) return -1;
    members += 1 + inner;
  }
  return members;
}

const COLON = 0x3a;
const BACKSLASH = 0x5c;

/**
 * Colons outside string literals, which in a valid JSON text are exactly its object members. Strings are
 * skipped with indexOf (a quote is escaped when an odd number of backslashes precede it).
 */
function countMembersInText(text: string): number {
  let count = 0;
  let i = 0;
  for (;;) {
    const open = text.indexOf('"', i);
    const structuralEnd = open < 0 ? text.length : open;
    for (let j = i; j < structuralEnd; j++) if (text.charCodeAt(j) === COLON) count++;
    if (open < 0) return count;
    let close = open;
    for (;;) {
      close = text.indexOf('"', close + 1);
      if (close < 0) return -1;
      let backslash = close - 1;
      while (text.charCodeAt(backslash) === BACKSLASH) backslash--;
      if ((close - 1 - backslash) % 2 === 0) break;
    }
    i = close + 1;
  }
}

function internalError(detail: string): StrictJsonError {
  // Unreachable while the two paths agree; a defect must still come back as a refusal, not an exception.
  return { code: 'syntax', message: `internal: ${detail}`, position: 0 };
}
