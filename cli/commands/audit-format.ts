import { stringify as toYaml } from 'yaml';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { renderRow, sanitize, truncate } from '../table.ts';
import type { OutputFormat } from './audit-flags.ts';

export { renderRow, sanitize, truncate } from '../table.ts';

/**
 * How events are printed. table and wide are for people: one line per event, columns as wide as their
 * widest value up to a cap, longer values cut with "…", and every control or bidi character replaced, since
 * users, tenants and reasons come from tokens and callers and must not drive the terminal. json and jsonl
 * are for programs: the events exactly as the collector returned them.
 */
export interface EventPrinter {
  /** One page (or follow batch) of events, in the order to print them. */
  add(events: readonly AuditEvent[]): void;
  /** After the last page: writes what was held back (a table's rows, a JSON array's end). */
  finish(): void;
  /** Events printed (or held for printing) so far. */
  readonly count: number;
}

interface Column {
  readonly header: string;
  /** The widest a cell may be; also the width of every column while following. */
  readonly cap: number;
  readonly cell: (event: AuditEvent) => string | undefined;
}

const TABLE_COLUMNS: readonly Column[] = [
  { header: 'TIME', cap: 20, cell: (e) => shortTime(e.time) },
  { header: 'NAMESPACE/SERVER', cap: 32, cell: (e) => `${e.server.namespace}/${e.server.name}` },
  { header: 'TOOL', cap: 24, cell: (e) => e.tool },
  { header: 'USER', cap: 24, cell: (e) => e.user },
  { header: 'AGENT', cap: 16, cell: (e) => e.agent },
  { header: 'TENANT', cap: 16, cell: (e) => e.tenant },
  { header: 'DECISION', cap: 11, cell: (e) => e.decision },
  {
    header: 'CODE/REASON',
    cap: 40,
    cell: (e) => [e.code, e.reason].filter((part) => typeof part === 'string' && part !== '').join(': '),
  },
];

const WIDE_COLUMNS: readonly Column[] = [
  ...TABLE_COLUMNS,
  { header: 'REQUEST', cap: 36, cell: (e) => e.requestId }, // a UUID whole: for grepping logs
  { header: 'POLICY HASH', cap: 20, cell: (e) => e.policyHash }, // sha256: and 12 hex digits
  { header: 'SEQ', cap: 10, cell: (e) => (e.seq === undefined ? undefined : String(e.seq)) },
];

const EMPTY = '-';

export function columnsFor(format: 'table' | 'wide'): readonly Column[] {
  return format === 'wide' ? WIDE_COLUMNS : TABLE_COLUMNS;
}

/** The event time in UTC to the second: the table's reader scans, json keeps the precision. */
export function shortTime(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? time : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export function tableCells(columns: readonly Column[], event: AuditEvent): string[] {
  return columns.map((column) => {
    const value = column.cell(event);
    return truncate(sanitize(value === undefined || value === '' ? EMPTY : String(value)), column.cap);
  });
}

/** Each column as wide as its header or widest cell (cells are already cut to the cap). */
export function fitWidths(columns: readonly Column[], rows: readonly (readonly string[])[]): number[] {
  return columns.map((column, index) =>
    rows.reduce((width, row) => Math.max(width, [...(row[index] ?? '')].length), column.header.length),
  );
}

/** A whole result: table rows are held until finish() to size the columns; json streams. */
export function resultPrinter(format: OutputFormat, out: (text: string) => void): EventPrinter {
  if (format === 'json') return jsonArrayPrinter(out);
  if (format === 'jsonl') return jsonLinesPrinter(out);
  if (format === 'yaml') return yamlSequencePrinter(out);
  const columns = columnsFor(format);
  // Rows are cut strings, not events: a 100,000-row table holds a few tens of megabytes at most.
  const rows: string[][] = [];
  return {
    add: (events) => void rows.push(...events.map((event) => tableCells(columns, event))),
    finish() {
      if (rows.length === 0) return;
      const widths = fitWidths(columns, rows);
      let text = renderRow(
        columns.map((c) => c.header),
        widths,
      );
      for (const row of rows) text += renderRow(row, widths);
      out(text);
    },
    get count() {
      return rows.length;
    },
  };
}

/** Follow mode: every line printed at once, so a table's columns are as wide as their caps. */
export function streamPrinter(
  format: Exclude<OutputFormat, 'json'>,
  out: (text: string) => void,
): EventPrinter {
  if (format === 'jsonl') return jsonLinesPrinter(out);
  if (format === 'yaml') return yamlSequencePrinter(out);
  const columns = columnsFor(format);
  const widths = columns.map((c) => c.cap);
  let count = 0;
  out(
    renderRow(
      columns.map((c) => c.header),
      widths,
    ),
  );
  return {
    add(events) {
      if (events.length === 0) return;
      out(events.map((event) => renderRow(tableCells(columns, event), widths)).join(''));
      count += events.length;
    },
    finish() {},
    get count() {
      return count;
    },
  };
}

function jsonLinesPrinter(out: (text: string) => void): EventPrinter {
  let count = 0;
  return {
    add(events) {
      if (events.length === 0) return;
      out(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
      count += events.length;
    },
    finish() {},
    get count() {
      return count;
    },
  };
}

/**
 * One YAML sequence of events, written page by page (each page's items append to it, so it also streams
 * under --follow): `[]` when nothing matched.
 */
function yamlSequencePrinter(out: (text: string) => void): EventPrinter {
  let count = 0;
  return {
    add(events) {
      if (events.length === 0) return;
      out(toYaml(events, { lineWidth: 0 }));
      count += events.length;
    },
    finish: () => {
      if (count === 0) out('[]\n');
    },
    get count() {
      return count;
    },
  };
}

/** One JSON array, an event per line, written page by page: `[]` when nothing matched. */
function jsonArrayPrinter(out: (text: string) => void): EventPrinter {
  let count = 0;
  return {
    add(events) {
      if (events.length === 0) return;
      out(events.map((event, i) => `${count + i === 0 ? '[\n' : ',\n'}  ${JSON.stringify(event)}`).join(''));
      count += events.length;
    },
    finish: () => out(count === 0 ? '[]\n' : '\n]\n'),
    get count() {
      return count;
    },
  };
}
