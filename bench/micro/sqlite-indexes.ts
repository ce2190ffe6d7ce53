/**
 * What each index of the SQLite audit store costs at ingest: CPU microseconds per event to insert into the
 * events table (the collector's schema, every migration) with all its indexes, without each one in turn,
 * and without any; plus the schema before migration 3, with user, tool and tenant as text in the rows and
 * indexes instead of dictionary keys. Rows are inserted as the store inserts them (the store's own 50-row
 * statement and connection settings, 2,000-event transactions, each looking up the keys of its distinct
 * values first, as the store does), without the rest of the store's JavaScript, so the figures are
 * SQLite's own. Variants show what earlier stores paid: the statement without OR FAIL (ABORT, SQLite's
 * default, which makes SQLite keep a statement journal), and SQLite's default 4 KiB pages. Best of the
 * rounds (the machine is shared: the minimum is the least disturbed). Prints JSON and writes
 * bench/results/sqlite-indexes.json.
 *
 * Run: taskset -c 1 node bench/micro/sqlite-indexes.ts [events per run (60000)] [rounds (4)]
 * Bounded: each run inserts a fixed number of events; rounds stop after 180 s.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { sqliteMigrations } from '../../collector/store/sqlite-schema.ts';
import { configureConnection, insertEventsSql } from '../../collector/store/sqlite.ts';
import { createVersion2Schema, version2InsertSql } from '../../collector/store/version-2-store.ts';

const EVENTS = Number(process.argv[2] ?? 60_000);
const ROUNDS = Number(process.argv[3] ?? 4);
const TIME_BOUND_MS = 180_000;
const TRANSACTION = 2_000;
const STATEMENT = 50;

interface Variant {
  readonly name: string;
  /** The schema: today's (every migration), or migration 2's text columns. */
  readonly schema: 'keys' | 'text';
  readonly drop?: readonly string[];
  /** Every n-th event is an egress event, without user, tool and tenant (0: none). */
  readonly egressEvery?: number;
  /** The statement without OR FAIL: conflicts ABORT, so SQLite journals every page the statement touches. */
  readonly abort?: boolean;
  /** Another page size than the store's (16 KiB) for a new database. */
  readonly pageBytes?: number;
}

const SECONDARY = [
  'events_time',
  'events_user_time',
  'events_tool_time',
  'events_server_time',
  'events_tenant_time',
];
const VARIANTS: Variant[] = [
  { name: 'all indexes', schema: 'keys' },
  { name: 'all indexes, text columns (migration 2)', schema: 'text' },
  { name: 'all indexes, ABORT (a statement journal)', schema: 'keys', abort: true },
  { name: 'all indexes, 4 KiB pages', schema: 'keys', pageBytes: 4_096 },
  ...SECONDARY.map((index): Variant => ({ name: `without ${index}`, schema: 'keys', drop: [index] })),
  { name: 'no secondary index', schema: 'keys', drop: SECONDARY },
  { name: 'all indexes, 1 event in 3 egress', schema: 'keys', egressEvery: 3 },
  { name: 'all indexes, text columns (migration 2), 1 event in 3 egress', schema: 'text', egressEvery: 3 },
];

interface Rows {
  /** Each row's values, in the statement's column order. */
  readonly values: SQLInputValue[][];
  /** Each row's user, tool and tenant: the keys its transaction looks up (dictionary schema). */
  readonly filterValues: (string | null)[][];
}

function rows(schema: Variant['schema'], egressEvery: number): Rows {
  const body = JSON.stringify({ padding: 'x'.repeat(660) }); // ~690 bytes, as an allowed call's event
  const start = Date.UTC(2026, 0, 1) * 1000;
  const keys = new Map<string, number>();
  const key = (value: string | null) => {
    if (value === null) return null;
    if (!keys.has(value)) keys.set(value, keys.size + 1);
    return keys.get(value) as number;
  };
  const values: SQLInputValue[][] = [];
  const filterValues: (string | null)[][] = [];
  for (let n = 0; n < EVENTS; n++) {
    const egress = egressEvery > 0 && n % egressEvery === 0;
    const sidecar = `bench-sidecar-${Math.floor(n / 500) % 8}`;
    const tool = egress ? null : `tool-${n % 13}`;
    const user = egress ? null : `user-${n % 97}@example.com`;
    const agent = egress ? null : 'support-copilot';
    const tenant = egress ? null : 'acme';
    const kind = egress ? 'egress' : 'call';
    filterValues.push([user, tool, tenant]);
    values.push(
      schema === 'text'
        ? [
            sidecar,
            n + 1,
            randomUUID(),
            start + n * 500,
            'bench',
            'bench',
            tool,
            user,
            agent,
            tenant,
            'allowed',
            kind,
            null,
            `sha256:${'3f1c0f0e'.repeat(8)}`,
            randomUUID(),
            body,
            '2026-01-01T00:00:00.000000Z',
          ]
        : [
            sidecar,
            n + 1,
            start + n * 500,
            'bench',
            'bench',
            key(tool),
            key(user),
            agent,
            key(tenant),
            'allowed',
            kind,
            body,
            start,
          ],
    );
  }
  return { values, filterValues };
}

/** The store's statement with SQLite's default conflict mode (ABORT); refuses a statement it cannot rewrite. */
function withoutOrFail(sql: string): string {
  if (!sql.startsWith('INSERT OR FAIL INTO '))
    throw new Error("the store's events INSERT changed: no OR FAIL");
  return sql.replace('INSERT OR FAIL INTO ', 'INSERT INTO ');
}

/** CPU microseconds per event for one run of `variant`, in a fresh database. */
function run(variant: Variant, data: Rows): number {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-indexes-'));
  const db = new DatabaseSync(join(dir, 'audit.db'));
  try {
    configureConnection(db, variant.pageBytes); // undefined: the store's own page size
    if (variant.schema === 'text') createVersion2Schema(db);
    else for (const sql of sqliteMigrations.flat()) db.exec(sql);
    for (const index of variant.drop ?? []) db.exec(`DROP INDEX ${index}`);
    const sql = variant.schema === 'text' ? version2InsertSql(STATEMENT) : insertEventsSql(STATEMENT);
    const insert = db.prepare(variant.abort ? withoutOrFail(sql) : sql);
    const lookUp = variant.schema === 'keys' ? dictionary(db) : undefined;
    const before = process.cpuUsage();
    for (let from = 0; from < data.values.length; from += TRANSACTION) {
      const to = Math.min(from + TRANSACTION, data.values.length);
      db.exec('BEGIN IMMEDIATE');
      lookUp?.(data.filterValues.slice(from, to));
      for (let at = from; at < to; at += STATEMENT)
        insert.run(...data.values.slice(at, at + STATEMENT).flat());
      db.exec('COMMIT');
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / data.values.length;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Looks up (adding the missing) keys of a transaction's distinct values, as the store's #filterKeys. */
function dictionary(db: DatabaseSync): (values: (string | null)[][]) => void {
  const find = db.prepare('SELECT id FROM filter_values WHERE value = ?');
  const add = db.prepare('INSERT INTO filter_values (value) VALUES (?) RETURNING id');
  return (values) => {
    const distinct = new Set(values.flat().filter((value) => value !== null));
    for (const value of distinct) if (find.get(value) === undefined) add.get(value);
  };
}

const started = performance.now();
const data = new Map<string, Rows>();
const best = new Map<string, number>();
let rounds = 0;
while (rounds < ROUNDS && performance.now() - started < TIME_BOUND_MS) {
  for (const variant of VARIANTS) {
    const key = `${variant.schema}/${variant.egressEvery ?? 0}`;
    if (!data.has(key)) data.set(key, rows(variant.schema, variant.egressEvery ?? 0));
    const perEvent = run(variant, data.get(key)!);
    best.set(variant.name, Math.min(best.get(variant.name) ?? Number.POSITIVE_INFINITY, perEvent));
  }
  rounds++;
}

const result = {
  benchmark: 'sqlite-indexes',
  date: new Date().toISOString(),
  eventsPerRun: EVENTS,
  rounds,
  transactionEvents: TRANSACTION,
  note: 'CPU µs per event, best of the rounds; SQLite alone (no store JavaScript); shared machine',
  cpuMicrosecondsPerEvent: Object.fromEntries(
    [...best.entries()].map(([name, value]) => [name, Math.round(value * 100) / 100]),
  ),
};
const resultsDir = join(import.meta.dirname, '../results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'sqlite-indexes.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
