import pg from 'pg';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import type { AuditQuery } from '../../api/audit/v1/query.ts';
import { AuditStoreError } from './errors.ts';
import { eventSelect } from './event-query.ts';
import { ingestPage } from './ingest-page.ts';
import { PageFill } from './page-bytes.ts';
import { nearbySpan, planGroup, type GroupPlan } from './insert-plan.ts';
import { checkedExporters, clockNow, requireExporter, type AuditStoreOptions } from './options.ts';
import { postgresMigrations } from './postgres-schema.ts';
import { checkOwner } from './sidecar-owner.ts';
import { batchRows, encodeCursor, groupBySidecar, type EventRow } from './rows.ts';
import type { SeqRange } from './sequence-ranges.ts';
import {
  checkedHeartbeat,
  gapsOf,
  heartbeatParams,
  sidecarState,
  type LostRow,
  type SidecarRow,
} from './sidecar-rows.ts';
import type { AuditPage, AuditStore, Gap, InsertResult, PendingExport, SidecarState } from './store.ts';
import { storeTime } from './time.ts';

export interface PostgresAuditStoreOptions extends AuditStoreOptions {
  readonly connectionString: string;
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number;
}

/** Key of the advisory lock that serializes migrations across replicas (any fixed bigint). */
const MIGRATION_LOCK = 7_305_142_207_118_449_431n;
const RETENTION_CHUNK = 5_000;
/** Key of the advisory lock that orders ingest ids by commit (any fixed bigint but MIGRATION_LOCK). */
const INGEST_ORDER_LOCK = 7_305_142_207_118_449_432n;

/** A timestamptz column as storeTime text, so both stores hand out identical times and cursors. */
const iso = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The HA store: PostgreSQL, any number of collector replicas writing at once.
 *
 * Concurrency: an insert locks the rows of the batch's sidecars (sorted, so two batches cannot deadlock)
 * before it reads their seq ranges, so batches of one sidecar are applied one after another whichever
 * replica received them, and contiguousThrough, highestSeq and the ranges move consistently; batches of
 * different sidecars do not wait for each other. Each batch is one statement per table (unnest arrays),
 * about eight round trips for 500 events.
 *
 * Export: pendingExport does not lease entries, so two replicas exporting for the same exporter both get
 * them: still at-least-once, with duplicates. Run each exporter on one replica (the leader).
 */
export class PostgresAuditStore implements AuditStore {
  readonly #pool: pg.Pool;
  readonly #exporters: ReadonlySet<string>;
  readonly #now: () => string;
  #closed = false;

  private constructor(pool: pg.Pool, exporters: ReadonlySet<string>, now: () => string) {
    this.#pool = pool;
    this.#exporters = exporters;
    this.#now = now;
  }

  /** Connects and creates or migrates the schema. */
  static async open(options: PostgresAuditStoreOptions): Promise<PostgresAuditStore> {
    const exporters = checkedExporters(options.exporters);
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
    });
    // An idle connection the server drops (restart, failover) must not crash the collector; the next
    // query gets a fresh connection or a rejection the caller turns into 503.
    pool.on('error', () => {});
    const store = new PostgresAuditStore(pool, exporters, clockNow(options.now));
    try {
      await store.#transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
        await migrate(client);
        await client.query('INSERT INTO exporters (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [
          [...exporters],
        ]);
      });
    } catch (error) {
      await pool.end();
      throw error;
    }
    return store;
  }

  async insert(events: readonly AuditEvent[]): Promise<InsertResult> {
    const rows = batchRows(events);
    if (rows.length === 0) return { accepted: 0, duplicates: events.length };
    const groups = groupBySidecar(rows).sort((a, b) => compare(a[0]!.sidecar, b[0]!.sidecar));
    const accepted = await this.#transaction(async (client) => {
      const now = this.#now();
      const sidecars = groups.map((group) => group[0]!.sidecar);
      await client.query(
        `INSERT INTO sidecars (sidecar, namespace, server, first_seen)
         SELECT s, n, v, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(s, n, v)
         ON CONFLICT DO NOTHING`,
        [sidecars, groups.map((g) => g[0]!.namespace), groups.map((g) => g[0]!.server), now],
      );
      // The lock that makes the ranges read below the truth until commit. The owners it reads are the
      // claims that committed first (INSERT ... DO NOTHING waited for them) or this batch's own.
      const owners = await client.query<{ sidecar: string; namespace: string; server: string }>(
        'SELECT sidecar, namespace, server FROM sidecars WHERE sidecar = ANY($1) ORDER BY sidecar FOR UPDATE',
        [sidecars],
      );
      for (const group of groups) {
        const sidecar = group[0]!.sidecar;
        checkOwner(
          sidecar,
          owners.rows.find((row) => row.sidecar === sidecar),
          group,
        );
      }
      const spans = groups.map(nearbySpan);
      const nearby = await client.query<{
        sidecar: string;
        from_seq: string;
        to_seq: string;
        stored_at: string;
      }>(
        `SELECT r.sidecar, r.from_seq, r.to_seq, ${iso('r.stored_at')} AS stored_at
         FROM seq_ranges r JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS b(sidecar, low, high)
           ON r.sidecar = b.sidecar AND r.to_seq >= b.low AND r.from_seq <= b.high`,
        [sidecars, spans.map((s) => s.low), spans.map((s) => s.high)],
      );
      const plans = groups.map((group) => {
        const sidecar = group[0]!.sidecar;
        const ranges: SeqRange[] = nearby.rows
          .filter((row) => row.sidecar === sidecar)
          .map((row) => ({ from: Number(row.from_seq), to: Number(row.to_seq), storedAt: row.stored_at }));
        return { sidecar, plan: planGroup(group, ranges, now) };
      });
      const fresh = plans.flatMap(({ plan }) => plan.fresh);
      if (fresh.length === 0) return 0;
      // Ingest ids are drawn when rows are inserted and become visible at commit; held from here to commit,
      // this lock makes them visible in ascending order, as followers (order=ingest) rely on. Only the tail
      // of the transaction is serialized: the per-sidecar work above still runs concurrently.
      await client.query('SELECT pg_advisory_xact_lock($1)', [INGEST_ORDER_LOCK.toString()]);
      const ids = await insertEvents(client, fresh, now);
      if (ids.length !== fresh.length) {
        throw new AuditStoreError('unavailable', 'seq ranges disagree with stored events');
      }
      if (this.#exporters.size > 0) {
        await client.query(
          `INSERT INTO export_queue (exporter, ingest_id)
           SELECT x, i FROM unnest($1::bigint[]) AS i, unnest($2::text[]) AS x`,
          [ids, [...this.#exporters]],
        );
      }
      await applyPlans(client, plans);
      return fresh.length;
    });
    return { accepted, duplicates: events.length - accepted };
  }

  async heartbeat(beat: Heartbeat): Promise<void> {
    const { time, lost } = checkedHeartbeat(beat);
    const newer = '(sidecars.last_heartbeat IS NULL OR EXCLUDED.last_heartbeat >= sidecars.last_heartbeat)';
    const latest = (column: string): string =>
      `${column} = CASE WHEN ${newer} THEN EXCLUDED.${column} ELSE sidecars.${column} END`;
    await this.#transaction(async (client) => {
      const now = this.#now();
      const claimant = { namespace: beat.server.namespace, server: beat.server.name };
      await client.query(
        `INSERT INTO sidecars (sidecar, namespace, server, first_seen) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [beat.sidecar, claimant.namespace, claimant.server, now],
      );
      const owner = await client.query<{ namespace: string; server: string }>(
        'SELECT namespace, server FROM sidecars WHERE sidecar = $1 FOR UPDATE',
        [beat.sidecar],
      );
      checkOwner(beat.sidecar, owner.rows[0], [claimant]);
      // The owner (namespace, server) is claimed once, never updated (sidecar-owner.ts).
      await client.query(
        `INSERT INTO sidecars (sidecar, namespace, server, pod, first_seen, last_heartbeat, reported_seq, policy_hash, tools)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (sidecar) DO UPDATE SET
           reported_seq = GREATEST(sidecars.reported_seq, EXCLUDED.reported_seq),
           ${['pod', 'policy_hash', 'tools', 'last_heartbeat'].map(latest).join(', ')}`,
        [...heartbeatParams(beat, now, time)],
      );
      if (lost.length === 0) return;
      await client.query(
        `INSERT INTO lost_ranges (sidecar, from_seq, to_seq, reason, reported_at)
         SELECT $1, f, t, r, $5 FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u(f, t, r)
         ON CONFLICT DO NOTHING`,
        [beat.sidecar, lost.map((l) => l.fromSeq), lost.map((l) => l.toSeq), lost.map((l) => l.reason), now],
      );
    });
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const select = eventSelect(query, {
      param: (index, type) =>
        `$${index}::${type === 'time' ? 'timestamptz' : type === 'int' ? 'integer' : type}`,
      time: (value) => value,
    });
    // Two steps in one snapshot, so a page never holds more than the byte cap (page-bytes.ts) in this
    // process: the matching rows' sizes first, then the bodies of the rows that fit.
    return this.#transaction(async (client) => {
      const sized = await client.query<{ ingest_id: string; time: string; size: number }>(
        `SELECT ingest_id, ${iso('time')} AS time, octet_length(body::text) AS size FROM events ${select.clause}`,
        select.params,
      );
      const fill = new PageFill(select.limit);
      const rows = sized.rows.filter((row) => fill.take(Number(row.size)));
      const page = rows.slice(0, select.limit);
      const bodies = await client.query<{ ingest_id: string; body: AuditEvent }>(
        'SELECT ingest_id, body FROM events WHERE ingest_id = ANY($1::bigint[])',
        [page.map((row) => row.ingest_id)],
      );
      const byId = new Map(bodies.rows.map((row) => [row.ingest_id, row.body]));
      const events = page.map((row) => ({
        ingestId: Number(row.ingest_id),
        event: byId.get(row.ingest_id)!,
      }));
      if (query.order === 'ingest') {
        const highest = await client.query<{ id: string | null }>('SELECT max(ingest_id) AS id FROM events');
        return ingestPage(
          events,
          select.limit,
          Number(highest.rows[0]?.id ?? 0),
          // `events` holds the page only: say whether rows past it were left.
          rows.length > select.limit || fill.full,
        );
      }
      const last = page.at(-1);
      const result = { events: events.map((row) => row.event) };
      if ((rows.length <= select.limit && !fill.full) || last === undefined) return result;
      return { ...result, next: encodeCursor({ time: last.time, ingestId: Number(last.ingest_id) }) };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async sidecars(): Promise<SidecarState[]> {
    const result = await this.#run((db) =>
      db.query<SidecarRow>(
        `SELECT sidecar, namespace, server, pod, ${iso('first_seen')} AS first_seen,
           ${iso('last_heartbeat')} AS last_heartbeat, highest_seq, contiguous_through, reported_seq,
           policy_hash, tools
         FROM sidecars ORDER BY sidecar COLLATE "C"`,
      ),
    );
    return result.rows.map(sidecarState);
  }

  async gaps(olderThan: Date): Promise<Gap[]> {
    // One snapshot, so ranges and lost ranges are of the same moment.
    const [ranges, lost] = await this.#transaction(
      async (client) => [
        await client.query<{ sidecar: string; from_seq: string; to_seq: string; stored_at: string }>(
          `SELECT sidecar, from_seq, to_seq, ${iso('stored_at')} AS stored_at FROM seq_ranges
           ORDER BY sidecar COLLATE "C", from_seq`,
        ),
        await client.query<LostRow>('SELECT sidecar, from_seq, to_seq, reason FROM lost_ranges'),
      ],
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
    return gapsOf(
      ranges.rows.map((row) => ({
        sidecar: row.sidecar,
        from: Number(row.from_seq),
        to: Number(row.to_seq),
        storedAt: row.stored_at,
      })),
      lost.rows,
      olderThan,
    );
  }

  async deleteBefore(time: Date): Promise<number> {
    const cutoff = storeTime(time.toISOString());
    let deleted = 0;
    for (;;) {
      // Bounded chunks: short transactions that hold few locks and little WAL each.
      const result = await this.#run((db) =>
        db.query(
          `WITH doomed AS (SELECT ingest_id FROM events WHERE time < $1::timestamptz LIMIT ${RETENTION_CHUNK}),
           unqueued AS (
             DELETE FROM export_queue
             WHERE exporter IN (SELECT name FROM exporters) AND ingest_id IN (SELECT ingest_id FROM doomed)
           )
           DELETE FROM events WHERE ingest_id IN (SELECT ingest_id FROM doomed)`,
          [cutoff],
        ),
      );
      const count = result.rowCount ?? 0;
      deleted += count;
      if (count < RETENTION_CHUNK) return deleted;
    }
  }

  async pendingExport(exporter: string, limit: number): Promise<PendingExport[]> {
    requireExporter(this.#exporters, exporter);
    const result = await this.#run((db) =>
      db.query<{ ingest_id: string; body: AuditEvent }>(
        `SELECT q.ingest_id, e.body FROM export_queue q JOIN events e ON e.ingest_id = q.ingest_id
         WHERE q.exporter = $1 ORDER BY q.ingest_id LIMIT $2`,
        [exporter, limit],
      ),
    );
    return result.rows.map((row) => ({ entry: Number(row.ingest_id), event: row.body }));
  }

  async ackExport(exporter: string, entries: readonly number[]): Promise<void> {
    requireExporter(this.#exporters, exporter);
    if (entries.length === 0) return;
    await this.#run((db) =>
      db.query('DELETE FROM export_queue WHERE exporter = $1 AND ingest_id = ANY($2::bigint[])', [
        exporter,
        [...entries],
      ]),
    );
  }

  async exportBacklog(exporter: string): Promise<number> {
    requireExporter(this.#exporters, exporter);
    const result = await this.#run((db) =>
      db.query<{ count: string }>('SELECT count(*) AS count FROM export_queue WHERE exporter = $1', [
        exporter,
      ]),
    );
    return Number(result.rows[0]?.count ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #run<T>(work: (db: pg.Pool) => Promise<T>): Promise<T> {
    if (this.#closed) throw new AuditStoreError('unavailable', 'the store is closed');
    try {
      return await work(this.#pool);
    } catch (error) {
      throw storeError(error);
    }
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    if (this.#closed) throw new AuditStoreError('unavailable', 'the store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is gone: release it as broken so the pool drops it.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw storeError(error);
    } finally {
      client.release(broken);
    }
  }
}

async function migrate(client: pg.PoolClient): Promise<void> {
  await client.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)');
  const current = Number(
    (await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')).rows[0]?.v ??
      0,
  );
  if (current > postgresMigrations.length) {
    throw new AuditStoreError(
      'unavailable',
      `the database has schema version ${current}; this collector knows up to ${postgresMigrations.length}`,
    );
  }
  for (const [index, statements] of postgresMigrations.entries()) {
    if (index < current) continue;
    for (const sql of statements) await client.query(sql);
    await client.query('INSERT INTO schema_version (version) VALUES ($1)', [index + 1]);
  }
}

/** Inserts the rows in one statement; returns their ingest ids. */
async function insertEvents(
  client: pg.PoolClient,
  rows: readonly EventRow[],
  now: string,
): Promise<string[]> {
  const column = <K extends keyof EventRow>(key: K): EventRow[K][] => rows.map((row) => row[key]);
  const result = await client.query<{ ingest_id: string }>(
    `INSERT INTO events (sidecar, seq, id, time, namespace, server, tool, user_name, agent, tenant, decision,
       kind, code, policy_hash, request_id, body, ingested_at)
     SELECT u.*, $17::timestamptz FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[],
       $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
       $13::text[], $14::text[], $15::text[], $16::json[]) AS u
     ON CONFLICT (sidecar, seq) DO NOTHING
     RETURNING ingest_id`,
    [
      column('sidecar'),
      column('seq'),
      column('id'),
      column('time'),
      column('namespace'),
      column('server'),
      column('tool'),
      column('user'),
      column('agent'),
      column('tenant'),
      column('decision'),
      column('kind'),
      column('code'),
      column('policyHash'),
      column('requestId'),
      column('body'),
      now,
    ],
  );
  return result.rows.map((row) => row.ingest_id);
}

/** Writes every group's range changes and sidecar progress: one statement per kind of change. */
async function applyPlans(
  client: pg.PoolClient,
  plans: readonly { sidecar: string; plan: GroupPlan }[],
): Promise<void> {
  const removed = plans.flatMap(({ sidecar, plan }) =>
    plan.ranges.removed.map((range) => ({ sidecar, range })),
  );
  const added = plans.flatMap(({ sidecar, plan }) => plan.ranges.added.map((range) => ({ sidecar, range })));
  if (removed.length > 0) {
    await client.query(
      `DELETE FROM seq_ranges r USING unnest($1::text[], $2::bigint[]) AS d(sidecar, from_seq)
       WHERE r.sidecar = d.sidecar AND r.from_seq = d.from_seq`,
      [removed.map((r) => r.sidecar), removed.map((r) => r.range.from)],
    );
  }
  if (added.length > 0) {
    await client.query(
      `INSERT INTO seq_ranges (sidecar, from_seq, to_seq, stored_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[])`,
      [
        added.map((a) => a.sidecar),
        added.map((a) => a.range.from),
        added.map((a) => a.range.to),
        added.map((a) => a.range.storedAt),
      ],
    );
  }
  const advanced = plans.filter(({ plan }) => plan.fresh.length > 0);
  await client.query(
    `UPDATE sidecars s SET highest_seq = GREATEST(s.highest_seq, u.highest),
       contiguous_through = GREATEST(s.contiguous_through, u.contiguous)
     FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(sidecar, highest, contiguous)
     WHERE s.sidecar = u.sidecar`,
    [
      advanced.map((a) => a.sidecar),
      advanced.map((a) => a.plan.highestSeq),
      advanced.map((a) => a.plan.contiguousThrough),
    ],
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** PostgreSQL's errors as the store's codes (SQLSTATE classes 22 and 23 are the batch's fault). */
function storeError(error: unknown): AuditStoreError {
  if (error instanceof AuditStoreError) return error;
  const { code, message } = error as { code?: string; message?: string };
  if (typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'))) {
    return new AuditStoreError('invalid_event', `the batch violates a constraint: ${message}`, {
      cause: error,
    });
  }
  return new AuditStoreError('unavailable', `PostgreSQL: ${message ?? String(error)}`, { cause: error });
}
