/**
 * How long the SQLite audit store's upgrade to schema version 3 takes (the rewrite of the events table with
 * user, tool and tenant dictionary-encoded: collector/store/sqlite-schema.ts): a version-2 store of N events
 * is written with version 2's own statement, then opened by today's store, which migrates it before it
 * answers. Reports wall and CPU seconds, µs per event, and the file's size before and after (the old table's
 * pages stay in the file as free pages). docs/operations.md and the chart's collector.startupTimeoutSeconds
 * rest on this figure. Prints JSON and writes bench/results/sqlite-migration.json.
 *
 * Run: taskset -c 1 node bench/micro/sqlite-migration.ts [events (300000)]
 * Bounded: one store of a fixed number of events (about 1 KiB of disk each, twice during the migration).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { configureConnection, SqliteAuditStore } from '../../collector/store/sqlite.ts';
import { createVersion2Schema, version2InsertSql } from '../../collector/store/version-2-store.ts';

const EVENTS = Number(process.argv[2] ?? 300_000);
const SIDECARS = 8;

/** A store as version 2 left it: its schema, its rows (every column text), its seq ranges. */
function writeVersion2Store(path: string): void {
  const db = new DatabaseSync(path);
  try {
    configureConnection(db);
    createVersion2Schema(db);
    const insert = db.prepare(version2InsertSql(1));
    const body = JSON.stringify({ padding: 'x'.repeat(660) }); // ~690 bytes, as an allowed call's event
    const start = Date.UTC(2026, 0, 1) * 1000;
    const ingestedAt = '2026-01-01T00:00:00.000000Z';
    db.exec('BEGIN');
    for (let n = 0; n < EVENTS; n++) {
      insert.run(
        `bench-sidecar-${n % SIDECARS}`,
        Math.floor(n / SIDECARS) + 1,
        randomUUID(),
        start + n * 500,
        'bench',
        'bench',
        `tool-${n % 13}`,
        `user-${n % 97}@example.com`,
        'support-copilot',
        'acme',
        'allowed',
        'call',
        null,
        `sha256:${'3f1c0f0e'.repeat(8)}`,
        randomUUID(),
        body,
        ingestedAt,
      );
    }
    // Each sidecar's seqs, 1 through its count, are stored: one range each, as version 2 recorded them.
    const range = db.prepare('INSERT INTO seq_ranges VALUES (?, 1, ?, ?)');
    for (let s = 0; s < SIDECARS; s++)
      range.run(`bench-sidecar-${s}`, Math.floor((EVENTS - 1 - s) / SIDECARS) + 1, ingestedAt);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-migration-'));
try {
  const path = join(dir, 'audit.db');
  writeVersion2Store(path);
  const bytesBefore = statSync(path).size;
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const store = await SqliteAuditStore.open({ path });
  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuStart);
  await store.close();
  const result = {
    benchmark: 'sqlite-migration',
    date: new Date().toISOString(),
    migration: 'schema version 2 -> 3 (dictionary-encoded user, tool and tenant)',
    events: EVENTS,
    wallSeconds: Math.round(wallMs) / 1000,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
    microsecondsPerEvent: Math.round((wallMs * 1000 * 10) / EVENTS) / 10,
    fileMiBBefore: Math.round(bytesBefore / 2 ** 20),
    fileMiBAfter: Math.round(statSync(path).size / 2 ** 20),
  };
  const resultsDir = join(import.meta.dirname, '../results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'sqlite-migration.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
