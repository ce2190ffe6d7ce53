/**
 * Writes a JSON value the way a hostile client may: the same value spelled many ways (escapes for any
 * character, odd whitespace, number forms), and, when asked, text that is not one value at all
 * (duplicate member names). Deterministic for a seed, so fast-check can shrink and replay a case.
 */
export interface Spelling {
  readonly seed: number;
  /** 0..1: how often a string character is written as a \u escape (or `\/`). */
  readonly escapeRate: number;
  /** Whitespace between tokens: none, plain, or the four JSON whitespace characters at random. */
  readonly whitespace: 'none' | 'space' | 'mixed';
  /** Integers written as 1.0, 1e0, 10E-1, ... */
  readonly numberForms: boolean;
}

export const PLAIN: Spelling = { seed: 0, escapeRate: 0, whitespace: 'none', numberForms: false };

/** Member names to write twice in every object that has them: [name, the duplicate's value]. */
export type Duplicates = ReadonlyMap<string, unknown>;

export function spellJson(value: unknown, spelling: Spelling, duplicates: Duplicates = new Map()): string {
  const random = mulberry32(spelling.seed);
  const ws = () => {
    if (spelling.whitespace === 'none') return '';
    if (spelling.whitespace === 'space') return random() < 0.5 ? ' ' : '';
    return ['', ' ', '\t', '\n', '\r', '  '][Math.floor(random() * 6)]!;
  };
  const string = (text: string) => {
    let out = '"';
    for (const char of text) {
      const code = char.codePointAt(0)!;
      if (random() < spelling.escapeRate) {
        if (char === '/' && random() < 0.5) out += '\\/';
        else
          for (let i = 0; i < char.length; i++)
            out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
      } else if (char === '"' || char === '\\') out += `\\${char}`;
      else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`;
      else out += char;
    }
    return `${out}"`;
  };
  const number = (n: number) => {
    if (!spelling.numberForms || !Number.isInteger(n)) return JSON.stringify(n);
    const forms = [`${n}`, `${n}.0`, `${n}e0`, `${n * 10}E-1`, `${n}.00E+0`];
    return forms[Math.floor(random() * forms.length)]!;
  };
  const write = (node: unknown): string => {
    if (node === null || typeof node === 'boolean') return String(node);
    if (typeof node === 'number') return number(node);
    if (typeof node === 'string') return string(node);
    if (Array.isArray(node)) return `[${ws()}${node.map((v) => write(v)).join(`${ws()},${ws()}`)}${ws()}]`;
    const members = Object.entries(node as Record<string, unknown>).map(
      ([key, v]) => `${string(key)}${ws()}:${ws()}${write(v)}`,
    );
    for (const key of Object.keys(node as Record<string, unknown>)) {
      if (duplicates.has(key)) members.push(`${string(key)}${ws()}:${ws()}${write(duplicates.get(key))}`);
    }
    return `{${ws()}${members.join(`${ws()},${ws()}`)}${ws()}}`;
  };
  return `${ws()}${write(value)}${ws()}`;
}

/** A small seeded PRNG: the same seed, the same spelling. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
