/**
 * The exact validator behind parseStrictJson: one iterative scan of the text that finds the first thing
 * strict JSON refuses and says where. It is the authority: parseStrictJson's fast path may only accept what
 * this accepts (a property test holds the two together), and every refusal's message and position come from here.
 *
 * Iterative on purpose: containers form an explicit stack of parallel arrays, so no nesting depth can
 * overflow the call stack and no per-container objects are allocated.
 */
import { quoteForMessage } from './quote.ts';
import type { StrictJsonError, StrictJsonErrorCode } from './strict-json.ts';

/** Member names refused at any depth: harmless in JSON.parse output, prototype pollution in whatever merges it. */
export function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/** The first reason `text` is not strict JSON within the limits, or undefined when it is. */
export function findStrictJsonError(
  text: string,
  maxDepth: number,
  maxKeys: number,
): StrictJsonError | undefined {
  return new Scanner(text, maxDepth, maxKeys).scan();
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const COLON = 0x3a;
const UPPER_E = 0x45;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const LOWER_E = 0x65;
const LOWER_F = 0x66;
const LOWER_N = 0x6e;
const LOWER_T = 0x74;
const LOWER_U = 0x75;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const HIGH_SURROGATE_MIN = 0xd800;
const LOW_SURROGATE_MIN = 0xdc00;
const SURROGATE_END = 0xe000;

/** Objects with more members than this switch from a linear duplicate scan to a Set. */
const LINEAR_KEY_SCAN_LIMIT = 8;

/** A number this long or with an exponent may overflow the double range and is checked. */
const OVERFLOW_CHECK_LENGTH = 300;

/** One scan of one text. Member names of all open objects share one array, each object owning the tail from its `keyStart`. */
class Scanner {
  private readonly text: string;
  private readonly end: number;
  private readonly maxDepth: number;
  private readonly maxKeys: number;
  private keyCount = 0;
  /** Set by scanString: the string just scanned contained a backslash escape. */
  private sawEscape = false;
  private error: StrictJsonError | undefined;
  private readonly isObject: boolean[] = [];
  private readonly keyStart: number[] = [];
  private readonly keySets: (Set<string> | undefined)[] = [];
  private readonly keys: string[] = [];

  constructor(text: string, maxDepth: number, maxKeys: number) {
    this.text = text;
    this.end = text.length;
    this.maxDepth = maxDepth;
    this.maxKeys = maxKeys;
  }

  /** Validates the whole text; returns the first problem, or undefined when the text is acceptable. */
  scan(): StrictJsonError | undefined {
    const text = this.text;
    let pos = this.skipWhitespace(0);
    for (;;) {
      // A value starts at pos.
      const c = text.charCodeAt(pos);
      if (c === OPEN_BRACE) {
        if (!this.open(true, pos)) return this.error;
        pos = this.skipWhitespace(pos + 1);
        if (text.charCodeAt(pos) === CLOSE_BRACE) {
          this.close();
          pos++;
        } else {
          pos = this.member(pos);
          if (pos < 0) return this.error;
          continue;
        }
      } else if (c === OPEN_BRACKET) {
        if (!this.open(false, pos)) return this.error;
        pos = this.skipWhitespace(pos + 1);
        if (text.charCodeAt(pos) === CLOSE_BRACKET) {
          this.close();
          pos++;
        } else {
          continue;
        }
      } else {
        pos = this.scalar(pos, c);
        if (pos < 0) return this.error;
      }

      // After a value: close containers, find the next value, or reach the end.
      for (;;) {
        pos = this.skipWhitespace(pos);
        const depth = this.isObject.length;
        if (depth === 0) {
          if (pos === this.end) return undefined;
          this.fail('syntax', `unexpected ${this.describe(pos)} after the value`, pos);
          return this.error;
        }
        const inObject = this.isObject[depth - 1] === true;
        const d = text.charCodeAt(pos);
        if (d === COMMA) {
          pos = this.skipWhitespace(pos + 1);
          if (inObject) {
            pos = this.member(pos);
            if (pos < 0) return this.error;
          }
          break;
        }
        if (d === (inObject ? CLOSE_BRACE : CLOSE_BRACKET)) {
          this.close();
          pos++;
          continue;
        }
        const expected = inObject ? "',' or '}'" : "',' or ']'";
        this.fail('syntax', `expected ${expected} but found ${this.describe(pos)}`, pos);
        return this.error;
      }
    }
  }

  private open(isObject: boolean, pos: number): boolean {
    if (this.isObject.length >= this.maxDepth) {
      this.fail('too_deep', `nesting deeper than ${this.maxDepth} levels`, pos);
      return false;
    }
    this.isObject.push(isObject);
    this.keyStart.push(this.keys.length);
    this.keySets.push(undefined);
    return true;
  }

  private close(): void {
    this.isObject.pop();
    this.keys.length = this.keyStart.pop() ?? 0;
    this.keySets.pop();
  }

  /** A member name, its colon and the whitespace after; returns the position of the member's value. */
  private member(pos: number): number {
    const text = this.text;
    if (text.charCodeAt(pos) !== QUOTE) {
      return this.fail(
        'syntax',
        `expected a member name in double quotes but found ${this.describe(pos)}`,
        pos,
      );
    }
    const after = this.scanString(pos);
    if (after < 0) return after;
    // Escaped names are rare; JSON.parse of the validated literal unescapes exactly as the final parse will.
    const key = this.sawEscape
      ? (JSON.parse(text.slice(pos, after)) as string)
      : text.slice(pos + 1, after - 1);
    if (isForbiddenKey(key)) {
      return this.fail(
        'forbidden_key',
        `member name "${key}" is refused at any depth (prototype pollution)`,
        pos,
      );
    }
    if (++this.keyCount > this.maxKeys) {
      return this.fail('too_many_keys', `more than ${this.maxKeys} object members`, pos);
    }
    if (this.isDuplicate(key)) {
      return this.fail('duplicate_key', `duplicate member name ${quoteForMessage(key)}`, pos);
    }
    const colon = this.skipWhitespace(after);
    if (text.charCodeAt(colon) !== COLON) {
      return this.fail('syntax', `expected ':' after a member name but found ${this.describe(colon)}`, colon);
    }
    return this.skipWhitespace(colon + 1);
  }

  /** Records `key` in the innermost object; true when that object already has it. */
  private isDuplicate(key: string): boolean {
    const top = this.keySets.length - 1;
    const set = this.keySets[top];
    if (set !== undefined) {
      if (set.has(key)) return true;
      set.add(key);
      return false;
    }
    const keys = this.keys;
    const start = this.keyStart[top] ?? 0;
    for (let i = start; i < keys.length; i++) if (keys[i] === key) return true;
    if (keys.length - start < LINEAR_KEY_SCAN_LIMIT) {
      keys.push(key);
    } else {
      const grown = new Set(keys.slice(start));
      grown.add(key);
      this.keySets[top] = grown;
    }
    return false;
  }

  /** A string, number or literal at pos; returns the position after it. */
  private scalar(pos: number, c: number): number {
    if (c === QUOTE) return this.scanString(pos);
    if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) return this.scanNumber(pos);
    if (c === LOWER_T) return this.literal(pos, 'true');
    if (c === LOWER_F) return this.literal(pos, 'false');
    if (c === LOWER_N) return this.literal(pos, 'null');
    return this.fail('syntax', `expected a value but found ${this.describe(pos)}`, pos);
  }

  private literal(pos: number, word: string): number {
    if (this.text.startsWith(word, pos)) return pos + word.length;
    return this.fail('syntax', `expected a value but found ${this.describe(pos)}`, pos);
  }

  /** The string literal opening at pos; returns the position after its closing quote. */
  private scanString(pos: number): number {
    const text = this.text;
    const end = this.end;
    let escaped = false;
    let i = pos + 1;
    for (;;) {
      if (i >= end) return this.fail('syntax', 'unterminated string', pos);
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i = this.scanEscape(i);
        if (i < 0) return i;
      } else if (c < SPACE) {
        return this.fail('syntax', `unescaped control character ${codePoint(c)} in a string`, i);
      } else if (c >= HIGH_SURROGATE_MIN && c < SURROGATE_END) {
        const next = text.charCodeAt(i + 1);
        if (c >= LOW_SURROGATE_MIN || !(next >= LOW_SURROGATE_MIN && next < SURROGATE_END)) {
          return this.fail('syntax', `unpaired surrogate ${codePoint(c)} in a string`, i);
        }
        i += 2;
      } else {
        i++;
      }
    }
    this.sawEscape = escaped;
    return i + 1;
  }

  /** The escape at pos (a backslash); returns the position after it. */
  private scanEscape(pos: number): number {
    const c = this.text.charCodeAt(pos + 1);
    if (c === LOWER_U) {
      const unit = this.hex4(pos + 2);
      if (unit < 0) return this.fail('syntax', 'invalid \\u escape', pos);
      if (unit < HIGH_SURROGATE_MIN || unit >= SURROGATE_END) return pos + 6;
      // A high surrogate must be followed by an escaped low one; a low one never stands alone.
      const low = unit < LOW_SURROGATE_MIN && this.text.startsWith('\\u', pos + 6) ? this.hex4(pos + 8) : -1;
      if (low >= LOW_SURROGATE_MIN && low < SURROGATE_END) return pos + 12;
      return this.fail('syntax', `unpaired surrogate escape \\u${unit.toString(16)}`, pos);
    }
    // The single-character escapes: " \ / b f n r t
    if (
      c === 0x22 ||
      c === 0x5c ||
      c === 0x2f ||
      c === 0x62 ||
      c === 0x66 ||
      c === 0x6e ||
      c === 0x72 ||
      c === 0x74
    ) {
      return pos + 2;
    }
    return this.fail('syntax', `invalid escape ${this.describe(pos + 1)}`, pos);
  }

  /** The code unit of four hex digits at pos, or -1. */
  private hex4(pos: number): number {
    let unit = 0;
    for (let i = pos; i < pos + 4; i++) {
      const d = hexValue(this.text.charCodeAt(i));
      if (d < 0) return -1;
      unit = (unit << 4) | d;
    }
    return unit;
  }

  /** The number at pos (RFC 8259 grammar); returns the position after it. */
  private scanNumber(pos: number): number {
    const text = this.text;
    let i = pos;
    if (text.charCodeAt(i) === MINUS) i++;
    const first = text.charCodeAt(i);
    if (first === DIGIT_0) {
      i++;
    } else if (first >= DIGIT_1 && first <= DIGIT_9) {
      i = this.digits(i + 1);
    } else {
      return this.fail('syntax', 'invalid number: no digits', pos);
    }
    let c = text.charCodeAt(i);
    if (c === DOT) {
      const fraction = this.digits(i + 1);
      if (fraction === i + 1)
        return this.fail('syntax', 'invalid number: no digits after the decimal point', pos);
      i = fraction;
      c = text.charCodeAt(i);
    }
    let exponent = false;
    if (c === LOWER_E || c === UPPER_E) {
      exponent = true;
      i++;
      c = text.charCodeAt(i);
      if (c === PLUS || c === MINUS) i++;
      const digitsEnd = this.digits(i);
      if (digitsEnd === i) return this.fail('syntax', 'invalid number: no digits in the exponent', pos);
      i = digitsEnd;
    }
    if ((exponent || i - pos >= OVERFLOW_CHECK_LENGTH) && !Number.isFinite(Number(text.slice(pos, i)))) {
      return this.fail('syntax', 'number outside the range of a double', pos);
    }
    return i;
  }

  private digits(pos: number): number {
    let i = pos;
    for (let c = this.text.charCodeAt(i); c >= DIGIT_0 && c <= DIGIT_9; c = this.text.charCodeAt(i)) i++;
    return i;
  }

  private skipWhitespace(pos: number): number {
    let i = pos;
    for (
      let c = this.text.charCodeAt(i);
      c === SPACE || c === LF || c === CR || c === TAB;
      c = this.text.charCodeAt(i)
    ) {
      i++;
    }
    return i;
  }

  /** Records the first error; returns -1 so callers can `return this.fail(...)` from position-returning code. */
  private fail(code: StrictJsonErrorCode, message: string, position: number): -1 {
    this.error = { code, message: `${message} at position ${position}`, position };
    return -1;
  }

  private describe(pos: number): string {
    if (pos >= this.end) return 'the end of the text';
    const c = this.text.charCodeAt(pos);
    return c > SPACE && c < 0x7f ? `'${String.fromCharCode(c)}'` : codePoint(c);
  }
}

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= LOWER_F) return lower - 0x61 + 10;
  return -1;
}

function codePoint(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}
