/** Text styles: ANSI colours on a terminal, plain text anywhere else (a pipe, a log, a CI job). */
export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  good(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  accent(text: string): string;
}

const plain: Style = {
  bold: (text) => text,
  dim: (text) => text,
  good: (text) => text,
  bad: (text) => text,
  warn: (text) => text,
  accent: (text) => text,
};

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;

const ansi: Style = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  good: sgr(32, 39),
  bad: sgr(31, 39),
  warn: sgr(33, 39),
  accent: sgr(36, 39),
};

/**
 * Colour only on a terminal, and never when NO_COLOR is set (no-color.org); FORCE_COLOR turns it on
 * for a pipe (a pager that understands ANSI).
 */
export function chooseStyle(isTerminal: boolean, env: Readonly<Record<string, string | undefined>>): Style {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return plain;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return ansi;
  return isTerminal && env['TERM'] !== 'dumb' ? ansi : plain;
}

export const PLAIN_STYLE = plain;
