import type { AuditQuery } from '../../api/audit/v1/query.ts';
import { columnText, decodeCursor } from './rows.ts';
import { storeTime } from './time.ts';

/** How one SQL dialect writes a bind parameter (`?` or `$1`) with its type, and binds a storeTime. */
export interface SqlDialect {
  param(index: number, type: 'text' | 'time' | 'bigint' | 'int'): string;
  time(value: string): unknown;
  /**
   * The condition that a filter `field` (its events column `column`) equals the bound `param`; by
   * default (or when it answers undefined) `column = param`. The SQLite store matches its
   * dictionary-encoded fields through their key.
   */
  equals?(field: FilterField, column: string, param: string): string | undefined;
}

export type FilterField = (typeof filterColumns)[number][0];

export interface EventSelect {
  /** `WHERE ... ORDER BY ... LIMIT ...` over the `events` table. */
  readonly clause: string;
  readonly params: unknown[];
  readonly limit: number;
}

const filterColumns = [
  ['user', 'user_name'],
  ['agent', 'agent'],
  ['tenant', 'tenant'],
  ['tool', 'tool'],
  ['server', 'server'],
  ['namespace', 'namespace'],
  ['decision', 'decision'],
  ['kind', 'kind'],
] as const;

/**
 * The SQL both stores run for a query. Pages are keyset pages on (time, ingest id): the cursor is the last
 * row's pair and the next page starts strictly past it, so pages never repeat or skip a row, whatever the
 * number of events with one timestamp. Fetches one row more than asked to learn whether a next page exists.
 * order=ingest pages on the ingest id alone (followers; api/audit/v1/query.ts).
 */
export function eventSelect(query: AuditQuery, dialect: SqlDialect): EventSelect {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const bind = (value: unknown, type: Parameters<SqlDialect['param']>[1]): string => {
    params.push(value);
    return dialect.param(params.length, type);
  };
  for (const [field, column] of filterColumns) {
    const value = query[field];
    if (value === undefined) continue;
    const param = bind(columnText(value), 'text');
    conditions.push(dialect.equals?.(field, column, param) ?? `${column} = ${param}`);
  }
  if (query.since !== undefined)
    conditions.push(`time >= ${bind(dialect.time(storeTime(query.since)), 'time')}`);
  if (query.until !== undefined)
    conditions.push(`time < ${bind(dialect.time(storeTime(query.until)), 'time')}`);
  const limit = query.limit ?? 100;
  if (query.order === 'ingest') {
    // Ingest order: the collector's own sequence (ingest ids become visible in order in both stores).
    if (query.after !== undefined) {
      conditions.push(`ingest_id > ${bind(decodeCursor(query.after).ingestId, 'bigint')}`);
    }
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
    return { clause: `${where}ORDER BY ingest_id ASC LIMIT ${bind(limit + 1, 'int')}`, params, limit };
  }
  const descending = (query.order ?? 'desc') === 'desc';
  if (query.after !== undefined) {
    const cursor = decodeCursor(query.after);
    const pair = `(${bind(dialect.time(cursor.time), 'time')}, ${bind(cursor.ingestId, 'bigint')})`;
    conditions.push(`(time, ingest_id) ${descending ? '<' : '>'} ${pair}`);
  }
  const direction = descending ? 'DESC' : 'ASC';
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')} `;
  return {
    clause: `${where}ORDER BY time ${direction}, ingest_id ${direction} LIMIT ${bind(limit + 1, 'int')}`,
    params,
    limit,
  };
}
