import type { Style } from './style.ts';

const WIDTH = 100;

/**
 * The walkthrough's layout, in one place: a heading per step, the explanation, each request and its
 * answer, the audit evidence, and a verdict. Plain text first; the style only adds colour.
 */
export class Printer {
  readonly #out: (text: string) => void;
  readonly #style: Style;

  constructor(out: (text: string) => void, style: Style) {
    this.#out = out;
    this.#style = style;
  }

  get style(): Style {
    return this.#style;
  }

  line(text = ''): void {
    this.#out(`${text}\n`);
  }

  title(text: string): void {
    this.line(this.#style.bold(text));
  }

  /** Label/value rows with the values aligned. */
  table(rows: readonly (readonly [string, string])[], indent = 2): void {
    const width = Math.max(...rows.map(([label]) => label.length));
    for (const [label, value] of rows) this.line(`${' '.repeat(indent)}${label.padEnd(width)}  ${value}`);
  }

  heading(index: number, total: number, title: string): void {
    this.section(`${index}/${total}  ${title}`);
  }

  section(title: string): void {
    const text = `── ${title} `;
    this.line();
    this.line(this.#style.bold(text + '─'.repeat(Math.max(3, WIDTH - text.length))));
  }

  /** Prose, wrapped to the page width. */
  paragraph(text: string, indent = 0): void {
    for (const line of wrap(text, WIDTH - indent)) this.line(`${' '.repeat(indent)}${line}`);
  }

  /** A request as it is sent: who sends it, and what. */
  request(who: string, what: string): void {
    this.line(`  ${this.#style.accent(who)}  ${what}`);
  }

  /** The answer to the request above it. */
  answer(ok: boolean, text: string): void {
    const arrow = '  ← ';
    const [first = '', ...rest] = wrap(text, WIDTH - arrow.length - 2);
    this.line(`${arrow}${ok ? this.#style.good(first) : this.#style.warn(first)}`);
    for (const line of rest) this.line(`${' '.repeat(arrow.length)}${line}`);
  }

  /** A remark under an answer (what the server saw, how long it took). */
  note(text: string): void {
    for (const line of wrap(text, WIDTH - 6)) this.line(`      ${this.#style.dim(line)}`);
  }

  /** A line of evidence from the audit trail. */
  evidence(text: string): void {
    this.line(`  ${this.#style.dim('audit')}  ${text}`);
  }

  /** A command a person could type, shown before its output. */
  command(text: string): void {
    this.line(`  ${this.#style.dim('$')} ${text}`);
  }

  verbatim(text: string, indent = 4): void {
    for (const line of text.replace(/\n$/, '').split('\n')) this.line(`${' '.repeat(indent)}${line}`);
  }

  verdict(ok: boolean, text: string): void {
    this.line(ok ? `  ${this.#style.good(`✓ ${text}`)}` : `  ${this.#style.bad(`✗ ${text}`)}`);
  }
}

/** Greedy word wrap; words longer than the width stay whole. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (current === '') current = word;
    else if (current.length + 1 + word.length <= width) current += ` ${word}`;
    else {
      lines.push(current);
      current = word;
    }
  }
  if (current !== '') lines.push(current);
  return lines.length > 0 ? lines : [''];
}
