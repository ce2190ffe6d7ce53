/**
 * Tables for people: columns as wide as their widest value up to a cap, longer values cut with "…", and
 * every control or bidi character replaced, since names, reasons and messages come from objects other
 * people wrote and must not drive the terminal.
 */
export interface TableColumn<Row> {
  readonly header: string;
  /** The widest a cell may be. */
  readonly cap: number;
  readonly cell: (row: Row) => string | undefined;
}

const GAP = '  ';
const EMPTY = '-';

/** Printable on a terminal: whitespace controls become spaces, other control and format characters "?". */
export function sanitize(text: string): string {
  return text.replace(/[\t\n\r\v\f]/g, ' ').replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '?');
}

/** At most `width` characters (code points), the last of a cut value being "…". */
export function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** One line of cells padded to `widths`, without trailing blanks. */
export function renderRow(cells: readonly string[], widths: readonly number[]): string {
  return (
    cells
      .map((cell, index) => cell + ' '.repeat(Math.max(0, (widths[index] ?? 0) - [...cell].length)))
      .join(GAP)
      .trimEnd() + '\n'
  );
}

/** The whole table, header first; empty text for no rows. */
export function renderTable<Row>(columns: readonly TableColumn<Row>[], rows: readonly Row[]): string {
  if (rows.length === 0) return '';
  const cells = rows.map((row) =>
    columns.map((column) => {
      const value = column.cell(row);
      return truncate(sanitize(value === undefined || value === '' ? EMPTY : value), column.cap);
    }),
  );
  const widths = columns.map((column, index) =>
    cells.reduce((width, row) => Math.max(width, [...(row[index] ?? '')].length), column.header.length),
  );
  return (
    renderRow(
      columns.map((c) => c.header),
      widths,
    ) + cells.map((row) => renderRow(row, widths)).join('')
  );
}
