/**
 * The SQLite schema as an ordered list of migrations; `schema_version` records the last one applied.
 * Append new migrations; never edit one that has shipped.
 *
 * events: ingest_id is the rowid (AUTOINCREMENT: never reused, even after retention empties the table, so
 * cursors and export entries stay unambiguous). (sidecar, seq) is the natural key, a UNIQUE constraint
 * because SQLite allows only the rowid as an integer primary key. Secondary indexes end in the rowid
 * implicitly, so (user_name, time) serves keyset pages on (time, ingest_id). time is microseconds since the
 * epoch (time.ts epochMicros): in five indexes, 8 bytes instead of 27 of text cut ingest CPU by about 15%.
 *
 * Migration 2: the indexes of optional columns (user, tool, tenant) are partial, `WHERE col IS NOT NULL`.
 * A query filters them by equality, which SQLite knows implies NOT NULL, so every query they served they
 * still serve; but an event without the field (egress, policy and kill-switch events have no user or tool;
 * without a tenant claim no event has a tenant) no longer adds an entry to a b-tree nobody can search by
 * NULL. Each index entry costs ingest 1.5-4.5 µs of CPU (more the more distinct values it has: inserts land
 * in the middle of the tree and split pages there), against a budget of 20 µs per event for 50,000 events/s
 * on one core. Rebuilding them reads the table once, at the first start of this version.
 */
export const sqliteMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE events (
      ingest_id INTEGER PRIMARY KEY AUTOINCREMENT,
      sidecar TEXT NOT NULL,
      seq INTEGER NOT NULL CHECK (seq >= 1),
      id TEXT NOT NULL,
      time INTEGER NOT NULL,
      namespace TEXT NOT NULL,
      server TEXT NOT NULL,
      tool TEXT,
      user_name TEXT,
      agent TEXT,
      tenant TEXT,
      decision TEXT NOT NULL,
      kind TEXT NOT NULL,
      code TEXT,
      policy_hash TEXT,
      request_id TEXT NOT NULL,
      body TEXT NOT NULL,
      ingested_at TEXT NOT NULL,
      UNIQUE (sidecar, seq)
    )`,
    'CREATE INDEX events_time ON events (time)',
    'CREATE INDEX events_user_time ON events (user_name, time)',
    'CREATE INDEX events_tool_time ON events (tool, time)',
    'CREATE INDEX events_server_time ON events (namespace, server, time)',
    'CREATE INDEX events_tenant_time ON events (tenant, time)',
    `CREATE TABLE sidecars (
      sidecar TEXT PRIMARY KEY,
      namespace TEXT NOT NULL,
      server TEXT NOT NULL,
      pod TEXT,
      first_seen TEXT NOT NULL,
      last_heartbeat TEXT,
      highest_seq INTEGER NOT NULL DEFAULT 0,
      contiguous_through INTEGER NOT NULL DEFAULT 0,
      reported_seq INTEGER NOT NULL DEFAULT 0,
      policy_hash TEXT,
      tools TEXT
    ) WITHOUT ROWID`,
    `CREATE TABLE seq_ranges (
      sidecar TEXT NOT NULL,
      from_seq INTEGER NOT NULL,
      to_seq INTEGER NOT NULL,
      stored_at TEXT NOT NULL,
      PRIMARY KEY (sidecar, from_seq)
    ) WITHOUT ROWID`,
    'CREATE INDEX seq_ranges_to ON seq_ranges (sidecar, to_seq)',
    `CREATE TABLE lost_ranges (
      sidecar TEXT NOT NULL,
      from_seq INTEGER NOT NULL,
      to_seq INTEGER NOT NULL,
      reason TEXT NOT NULL,
      reported_at TEXT NOT NULL,
      PRIMARY KEY (sidecar, from_seq, to_seq)
    ) WITHOUT ROWID`,
    'CREATE TABLE exporters (name TEXT PRIMARY KEY) WITHOUT ROWID',
    `CREATE TABLE export_queue (
      exporter TEXT NOT NULL,
      ingest_id INTEGER NOT NULL,
      PRIMARY KEY (exporter, ingest_id)
    ) WITHOUT ROWID`,
  ],
  [
    'DROP INDEX events_user_time',
    'CREATE INDEX events_user_time ON events (user_name, time) WHERE user_name IS NOT NULL',
    'DROP INDEX events_tool_time',
    'CREATE INDEX events_tool_time ON events (tool, time) WHERE tool IS NOT NULL',
    'DROP INDEX events_tenant_time',
    'CREATE INDEX events_tenant_time ON events (tenant, time) WHERE tenant IS NOT NULL',
  ],
];
