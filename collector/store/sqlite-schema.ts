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
 *
 * Migration 3: user, tool and tenant are dictionary-encoded. Each distinct value is stored once in
 * `filter_values`; events hold its integer key (user_id, tool_id, tenant_id) and the indexes are on the
 * keys. An index entry of a 97-user store shrank from ~40 bytes of text to a few bytes, and SQLite's
 * own CPU per event fell by about a quarter (bench/micro/sqlite-indexes.ts). The columns nothing filters
 * by (id, code, policy_hash, request_id) are gone: the body holds them (json_extract(body, '$.requestId')),
 * and ingested_at is microseconds since the epoch like time. Keys are resolved inside each write
 * transaction, under SQLite's write lock, and never cached across transactions, so two collectors on one
 * file and retention, which deletes values no event uses any more, always agree on them (sqlite.ts).
 * AUTOINCREMENT on filter_values: a deleted value's key is never given to another value. The rebuild copies
 * every event with its ingest id and carries the events table's AUTOINCREMENT high-water mark across, so
 * ingest ids are never reused even when retention had emptied the table.
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
  [
    'CREATE TABLE filter_values (id INTEGER PRIMARY KEY AUTOINCREMENT, value TEXT NOT NULL UNIQUE)',
    `INSERT INTO filter_values (value)
       SELECT user_name FROM events WHERE user_name IS NOT NULL
       UNION SELECT tool FROM events WHERE tool IS NOT NULL
       UNION SELECT tenant FROM events WHERE tenant IS NOT NULL`,
    `CREATE TABLE events_v3 (
      ingest_id INTEGER PRIMARY KEY AUTOINCREMENT,
      sidecar TEXT NOT NULL,
      seq INTEGER NOT NULL CHECK (seq >= 1),
      time INTEGER NOT NULL,
      namespace TEXT NOT NULL,
      server TEXT NOT NULL,
      tool_id INTEGER,
      user_id INTEGER,
      agent TEXT,
      tenant_id INTEGER,
      decision TEXT NOT NULL,
      kind TEXT NOT NULL,
      body TEXT NOT NULL,
      ingested_at INTEGER NOT NULL,
      UNIQUE (sidecar, seq)
    )`,
    `INSERT INTO events_v3 (ingest_id, sidecar, seq, time, namespace, server, tool_id, user_id, agent, tenant_id,
       decision, kind, body, ingested_at)
     SELECT e.ingest_id, e.sidecar, e.seq, e.time, e.namespace, e.server,
       (SELECT id FROM filter_values WHERE value = e.tool),
       (SELECT id FROM filter_values WHERE value = e.user_name),
       e.agent,
       (SELECT id FROM filter_values WHERE value = e.tenant),
       e.decision, e.kind, e.body,
       unixepoch(substr(e.ingested_at, 1, 19)) * 1000000 + CAST(substr(e.ingested_at, 21, 6) AS INTEGER)
     FROM events e ORDER BY e.ingest_id`,
    // The copy set events_v3's high-water mark to its highest ingest id; the old table's may be higher
    // (retention deleted the newest events too). Renaming moves this row to the name `events`.
    `DELETE FROM sqlite_sequence WHERE name = 'events_v3'`,
    `INSERT INTO sqlite_sequence (name, seq) SELECT 'events_v3', seq FROM sqlite_sequence WHERE name = 'events'`,
    'DROP TABLE events',
    'ALTER TABLE events_v3 RENAME TO events',
    'CREATE INDEX events_time ON events (time)',
    'CREATE INDEX events_user_time ON events (user_id, time) WHERE user_id IS NOT NULL',
    'CREATE INDEX events_tool_time ON events (tool_id, time) WHERE tool_id IS NOT NULL',
    'CREATE INDEX events_server_time ON events (namespace, server, time)',
    'CREATE INDEX events_tenant_time ON events (tenant_id, time) WHERE tenant_id IS NOT NULL',
  ],
];
