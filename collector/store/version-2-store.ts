import type { DatabaseSync } from 'node:sqlite';
import { sqliteMigrations } from './sqlite-schema.ts';

/**
 * An SQLite store as schema version 2 left it, for the tests and benchmarks of what came after (migration 3's
 * rewrite of the events table): the schema and version rows of migrations 1 and 2, and the events INSERT that
 * version wrote with, every filter column as text, including the columns migration 3 dropped.
 */
export function createVersion2Schema(db: DatabaseSync): void {
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const sql of sqliteMigrations.slice(0, 2).flat()) db.exec(sql);
  db.exec('INSERT INTO schema_version (version) VALUES (1), (2)');
}

/** Version 2's multi-row events INSERT of `rows` rows, 17 parameters each in the order of the column list. */
export function version2InsertSql(rows: number): string {
  const row = `(${new Array(17).fill('?').join(', ')})`;
  return `INSERT OR FAIL INTO events (sidecar, seq, id, time, namespace, server, tool, user_name, agent, tenant,
      decision, kind, code, policy_hash, request_id, body, ingested_at)
    VALUES ${new Array(rows).fill(row).join(', ')}
    ON CONFLICT (sidecar, seq) DO NOTHING`;
}
