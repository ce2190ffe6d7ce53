/**
 * What each index of the SQLite audit store costs at ingest: CPU microseconds per event to insert into the
 * events table (the collector's schema, both migrations) with all its indexes, without each one in turn, and
 * without any; plus the partial indexes (migration 2) against the full ones (migration 1) when part of the
 * events carry no user, tool or tenant (egress events). Rows are inserted as the store inserts them
 * (the store's own 50-row statement and connection settings, 2,000-event transactions), without the
 * store's JavaScript, so the figures are SQLite's own. Two variants show what earlier stores paid: the
 * statement without OR FAIL (ABORT, SQLite's default, which makes SQLite keep a statement journal), and
 * SQLite's default 4 KiB pages. Best of the rounds (the machine is shared: the minimum is the least
 * disturbed). Prints JSON and writes bench/results/sqlite-indexes.json.
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

const EVENTS = Number(process.argv[2] ?? 60_000);
const ROUNDS = Number(process.argv[3] ?? 4);
const TIME_BOUND_MS = 180_000;
const TRANSACTION = 2_000;
const STATEMENT = 50;

interface Variant {
  readonly name: string;
  /** How many migrations to apply (1: full indexes; 2: partial ones). */
  readonly migrations: number;
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
  { name: 'all indexes (migration 2)', migrations: 2 },
  { name: 'all indexes, ABORT (a statement journal)', migrations: 2, abort: true },
  { name: 'all indexes, 4 KiB pages', migrations: 2, pageBytes: 4_096 },
  ...SECONDARY.map((index) => ({ name: `without ${index}`, migrations: 2, drop: [index] })),
  { name: 'no secondary index', migrations: 2, drop: SECONDARY },
  { name: 'migration 1 (full indexes), 1 event in 3 egress', migrations: 1, egressEvery: 3 },
  { name: 'migration 2 (partial indexes), 1 event in 3 egress', migrations: 2, egressEvery: 3 },
];

function rows(egressEvery: number): SQLInputValue[][] {
  const body = JSON.stringify({ padding: 'x'.repeat(660) }); // ~690 bytes, as an allowed call's event
  const start = Date.UTC(2026, 0, 1) * 1000;
  return Array.from({ length: EVENTS }, (_, n) => {
    const egress = egressEvery > 0 && n % egressEvery === 0;
    return [
      `bench-sidecar-${Math.floor(n / 500) % 8}`,
      n + 1,
      randomUUID(),
      start + n * 500,
      'bench',
      'bench',
      egress ? null : `tool-${n % 13}`,
      egress ? null : `user-${n % 97}@example.com`,
      egress ? null : 'support-copilot',
      egress ? null : 'acme',
      'allowed',
      egress ? 'egress' : 'call',
      null,
      'sha256:3f1c0f0e1b7a6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a392817060504',
      randomUUID(),
      body,
      '2026-01-01T00:00:00.000000Z',
    ];
  });
}

/** The store's statement with SQLite's default conflict mode (ABORT); refuses a statement it cannot rewrite. */
function withoutOrFail(sql: string): string {
  if (!sql.startsWith('INSERT OR FAIL INTO '))
    throw new Error("the store's events INSERT changed: no OR FAIL");
  return sql.replace('INSERT OR FAIL INTO ', 'INSERT INTO ');
}

/** CPU microseconds per event for one run of `variant`, in a fresh database. */
function run(variant: Variant, data: SQLInputValue[][]): number {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-indexes-'));
  const db = new DatabaseSync(join(dir, 'audit.db'));
  try {
    configureConnection(db, variant.pageBytes); // undefined: the store's own page size
    for (const statements of sqliteMigrations.slice(0, variant.migrations))
      for (const sql of statements) db.exec(sql);
    for (const index of variant.drop ?? []) db.exec(`DROP INDEX ${index}`);
    const insert = db.prepare(
      variant.abort ? withoutOrFail(insertEventsSql(STATEMENT)) : insertEventsSql(STATEMENT),
    );
    const before = process.cpuUsage();
    for (let from = 0; from < data.length; from += TRANSACTION) {
      db.exec('BEGIN IMMEDIATE');
      for (let at = from; at < from + TRANSACTION && at < data.length; at += STATEMENT)
        insert.run(...data.slice(at, at + STATEMENT).flat());
      db.exec('COMMIT');
    }
    const used = process.cpuUsage(before);
    return (used.user + used.system) / data.length;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const started = performance.now();
const data = new Map<number, SQLInputValue[][]>();
const best = new Map<string, number>();
let rounds = 0;
while (rounds < ROUNDS && performance.now() - started < TIME_BOUND_MS) {
  for (const variant of VARIANTS) {
    const egress = variant.egressEvery ?? 0;
    if (!data.has(egress)) data.set(egress, rows(egress));
    const perEvent = run(variant, data.get(egress)!);
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
