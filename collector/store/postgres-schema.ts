/**
 * The PostgreSQL schema as an ordered list of migrations; `schema_version` records the last one applied.
 * Append new migrations; never edit one that has shipped. Runs under an advisory lock, so replicas
 * starting together migrate once.
 *
 * body is `json`, not `jsonb`: json keeps the event's text as received and accepts the escape \u0000,
 * which jsonb refuses; tool arguments may carry it, and a refused batch would be retried forever.
 * Every secondary index ends in ingest_id for keyset pages on (time, ingest_id).
 */
export const postgresMigrations: readonly (readonly string[])[] = [
  [
    `CREATE TABLE events (
      ingest_id bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      sidecar text NOT NULL,
      seq bigint NOT NULL CHECK (seq >= 1),
      id text NOT NULL,
      time timestamptz NOT NULL,
      namespace text NOT NULL,
      server text NOT NULL,
      tool text,
      user_name text,
      agent text,
      tenant text,
      decision text NOT NULL,
      kind text NOT NULL,
      code text,
      policy_hash text,
      request_id text NOT NULL,
      body json NOT NULL,
      ingested_at timestamptz NOT NULL,
      PRIMARY KEY (sidecar, seq)
    )`,
    'CREATE INDEX events_time ON events (time, ingest_id)',
    'CREATE INDEX events_user_time ON events (user_name, time, ingest_id)',
    'CREATE INDEX events_tool_time ON events (tool, time, ingest_id)',
    'CREATE INDEX events_server_time ON events (namespace, server, time, ingest_id)',
    'CREATE INDEX events_tenant_time ON events (tenant, time, ingest_id)',
    `CREATE TABLE sidecars (
      sidecar text PRIMARY KEY,
      namespace text NOT NULL,
      server text NOT NULL,
      pod text,
      first_seen timestamptz NOT NULL,
      last_heartbeat timestamptz,
      highest_seq bigint NOT NULL DEFAULT 0,
      contiguous_through bigint NOT NULL DEFAULT 0,
      reported_seq bigint NOT NULL DEFAULT 0,
      policy_hash text,
      tools json
    )`,
    `CREATE TABLE seq_ranges (
      sidecar text NOT NULL,
      from_seq bigint NOT NULL,
      to_seq bigint NOT NULL,
      stored_at timestamptz NOT NULL,
      PRIMARY KEY (sidecar, from_seq)
    )`,
    'CREATE INDEX seq_ranges_to ON seq_ranges (sidecar, to_seq)',
    `CREATE TABLE lost_ranges (
      sidecar text NOT NULL,
      from_seq bigint NOT NULL,
      to_seq bigint NOT NULL,
      reason text NOT NULL,
      reported_at timestamptz NOT NULL,
      PRIMARY KEY (sidecar, from_seq, to_seq)
    )`,
    'CREATE TABLE exporters (name text PRIMARY KEY)',
    `CREATE TABLE export_queue (
      exporter text NOT NULL,
      ingest_id bigint NOT NULL,
      PRIMARY KEY (exporter, ingest_id)
    )`,
  ],
];
