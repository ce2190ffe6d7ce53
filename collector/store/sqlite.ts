import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import type { AuditQuery } from '../../api/audit/v1/query.ts';
import { AuditStoreError } from './errors.ts';
import { eventSelect, type FilterField } from './event-query.ts';
import { dictionaryColumns, distinctFilterValues, filterKey, type FilterKeys } from './filter-values.ts';
import { checkedExporters, clockNow, requireExporter, type AuditStoreOptions } from './options.ts';
import { batchRows, encodeCursor, groupBySidecar, type EventRow } from './rows.ts';
import { ingestPage } from './ingest-page.ts';
import { PageFill } from './page-bytes.ts';
import { nearbySpan, planGroup } from './insert-plan.ts';
import type { SeqRange } from './sequence-ranges.ts';
import {
  checkedHeartbeat,
  gapsOf,
  heartbeatParams,
  sidecarState,
  type LostRow,
  type SidecarRow,
} from './sidecar-rows.ts';
import { checkOwner, type SidecarOwner } from './sidecar-owner.ts';
import { sqliteMigrations } from './sqlite-schema.ts';
import type { AuditPage, AuditStore, Gap, InsertResult, PendingExport, SidecarState } from './store.ts';
import { epochMicros, storeTime } from './time.ts';

export interface SqliteAuditStoreOptions extends AuditStoreOptions {
  /** The database file (created if missing); ':memory:' for a private in-memory store. */
  readonly path: string;
  /**
   * How long a write waits for another connection's transaction (another process on the file), waiting
   * off the event loop (see #write). Default 5 s; beyond, the write fails as unavailable (503, retried).
   */
  readonly busyTimeoutMs?: number;
  /** Called each time a write finds the database locked by another connection and waits. */
  readonly onLockWait?: () => void;
}

/** Events deleted per retention transaction: each is one short synchronous call. */
const RETENTION_CHUNK = 5_000;
/** Filter values checked per transaction when retention deletes those no event uses any more. */
const FILTER_VALUES_CHUNK = 2_000;
/** Events per group commit at most: bounds how long one synchronous transaction blocks the event loop. */
const GROUP_COMMIT_EVENTS = 10_000;
/** The page size of a database this store creates. */
const NEW_DATABASE_PAGE_BYTES = 16_384;
/** How much WAL accumulates before SQLite copies it into the database (wal_autocheckpoint, in pages). */
const CHECKPOINT_WAL_BYTES = 16 * 1024 * 1024;
/** Rows per multi-row INSERT (13 parameters each; SQLite allows 32,766). */
const INSERT_CHUNK = 50;

/**
 * The single-replica store: one SQLite file over node:sqlite.
 *
 * Durability: WAL journal with synchronous=FULL, so a commit is fsynced before insert() resolves and an
 * ack means the events survive power loss. (NORMAL would fsync only at checkpoints: safe against a
 * collector crash but not against the machine's, and sidecars delete what we ack.)
 *
 * node:sqlite is synchronous. Every transaction runs inside one synchronous call that starts and commits
 * it (a 500-event batch takes about 10 ms), so no transaction spans an await and two stores in one process
 * never wait on each other; the methods are async so that errors arrive as rejections and callers do not
 * depend on that. Retention runs in bounded chunks with a turn of the event loop between them. A write
 * that finds the file locked by another connection waits asynchronously (#write), never on the event loop.
 */
interface WaitingBatch {
  readonly rows: readonly EventRow[];
  resolve(accepted: number): void;
  reject(error: unknown): void;
}

export class SqliteAuditStore implements AuditStore {
  readonly #db: DatabaseSync;
  readonly #exporters: ReadonlySet<string>;
  /** The exporters as a JSON array, for json_each(). */
  readonly #exporterList: string;
  readonly #now: () => string;
  readonly #statements: ReturnType<typeof prepare>;
  #closed = false;
  /** Batches waiting for the next group commit. */
  readonly #waiting: WaitingBatch[] = [];
  #commitScheduled = false;
  /** The group commit under way (it may be waiting for the lock), so only one runs at a time. */
  #committing: Promise<void> | undefined;
  readonly #busyTimeoutMs: number;
  readonly #onLockWait: (() => void) | undefined;

  private constructor(
    db: DatabaseSync,
    exporters: ReadonlySet<string>,
    now: () => string,
    lockWait: { busyTimeoutMs: number; onLockWait: (() => void) | undefined },
  ) {
    this.#db = db;
    this.#busyTimeoutMs = lockWait.busyTimeoutMs;
    this.#onLockWait = lockWait.onLockWait;
    this.#exporters = exporters;
    this.#exporterList = JSON.stringify([...exporters]);
    this.#now = now;
    this.#statements = prepare(db);
  }

  /** Opens (creating or migrating) the database. */
  static async open(options: SqliteAuditStoreOptions): Promise<SqliteAuditStore> {
    const exporters = checkedExporters(options.exporters);
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    // Opening and migrating may wait on the lock inside SQLite: nothing else runs yet.
    const db = new DatabaseSync(options.path, { timeout: busyTimeoutMs });
    try {
      configureConnection(db);
      migrate(db);
      const register = db.prepare('INSERT INTO exporters (name) VALUES (?) ON CONFLICT DO NOTHING');
      for (const name of exporters) register.run(name);
      // From here on a locked database answers at once, and #write waits off the event loop.
      db.exec('PRAGMA busy_timeout = 0');
    } catch (error) {
      db.close();
      throw storeError(error);
    }
    return new SqliteAuditStore(db, exporters, clockNow(options.now), {
      busyTimeoutMs,
      onLockWait: options.onLockWait,
    });
  }

  /** The durability settings in force on this connection (journal_mode, synchronous: 2 is FULL). */
  get durability(): { journalMode: string; synchronous: number } {
    const journal = this.#db.prepare('PRAGMA journal_mode').get();
    const synchronous = this.#db.prepare('PRAGMA synchronous').get();
    return { journalMode: String(journal?.journal_mode), synchronous: Number(synchronous?.synchronous) };
  }

  /**
   * Queues the batch for the next group commit (see #commitGroup) and resolves once that has committed.
   * Validation happens here, so a batch the store cannot keep is refused before it waits.
   */
  async insert(events: readonly AuditEvent[]): Promise<InsertResult> {
    const rows = batchRows(events);
    this.#open();
    if (rows.length === 0) return { accepted: 0, duplicates: events.length };
    const accepted = await new Promise<number>((resolve, reject) => {
      this.#waiting.push({ rows, resolve, reject });
      this.#scheduleCommit();
    });
    return { accepted, duplicates: events.length - accepted };
  }

  /**
   * Group commit: the batches that arrived during one turn of the event loop (concurrent uploads from
   * many sidecars) share one transaction, one fsync and one write of each index page they touch; with
   * 500-event batches that is most of the cost of a commit. Each batch runs in a savepoint of its own, so
   * a batch that fails is rolled back alone and the others commit: a batch is still atomic by itself.
   */
  #scheduleCommit(): void {
    if (this.#commitScheduled || this.#committing !== undefined) return;
    this.#commitScheduled = true;
    setImmediate(() => void this.#commitGroup());
  }

  #commitGroup(): Promise<void> {
    this.#commitScheduled = false;
    this.#committing ??= this.#commitNextGroup().finally(() => {
      this.#committing = undefined;
      if (this.#waiting.length > 0 && !this.#closed) this.#scheduleCommit();
    });
    return this.#committing;
  }

  async #commitNextGroup(): Promise<void> {
    const group: WaitingBatch[] = [];
    let size = 0;
    while (this.#waiting.length > 0 && size < GROUP_COMMIT_EVENTS) {
      const batch = this.#waiting.shift() as WaitingBatch;
      group.push(batch);
      size += batch.rows.length;
    }
    if (group.length === 0) return;
    let outcomes: (number | AuditStoreError)[];
    try {
      outcomes = await this.#write(() => {
        const now = this.#now();
        const before = Number(this.#statements.lastIngestId.get()?.id ?? 0);
        // Outside the batches' savepoints: a batch rolled back leaves the keys valid for the others.
        const keys = this.#filterKeys(group.map((batch) => batch.rows));
        const results = group.map((batch) => this.#insertBatch(batch.rows, now, keys));
        // Every row above `before` is this transaction's: queue them all for every exporter at once.
        if (this.#exporters.size > 0 && results.some((result) => typeof result === 'number' && result > 0)) {
          this.#statements.queueExports.run(this.#exporterList, before);
        }
        return results;
      });
    } catch (error) {
      for (const batch of group) batch.reject(error);
      return;
    }
    for (const [index, batch] of group.entries()) {
      const outcome = outcomes[index];
      if (typeof outcome === 'number') batch.resolve(outcome);
      else batch.reject(outcome);
    }
  }

  /**
   * The keys of the batches' user, tool and tenant values (sqlite-schema.ts, migration 3), adding the
   * values not yet in the dictionary. Read in the write transaction that uses them and never cached
   * beyond it: another collector on the file and retention change the dictionary only under the same
   * write lock, so a key read here cannot be deleted or reassigned before this transaction commits.
   */
  #filterKeys(batches: readonly (readonly EventRow[])[]): FilterKeys {
    const s = this.#statements;
    const keys = new Map<string, number>();
    for (const value of distinctFilterValues(batches)) {
      const key = s.filterValueKey.get(value)?.id ?? s.addFilterValue.get(value)?.id;
      keys.set(value, Number(key));
    }
    return keys;
  }

  /** One batch inside the group's transaction: all of it or, on an error, none of it. */
  #insertBatch(rows: readonly EventRow[], now: string, keys: FilterKeys): number | AuditStoreError {
    this.#db.exec('SAVEPOINT batch');
    try {
      let accepted = 0;
      for (const group of groupBySidecar(rows)) accepted += this.#insertGroup(group, now, keys);
      this.#db.exec('RELEASE batch');
      return accepted;
    } catch (error) {
      this.#db.exec('ROLLBACK TO batch');
      this.#db.exec('RELEASE batch');
      return storeError(error);
    }
  }

  /**
   * One sidecar's events: skips seqs ever stored, stores the rest, folds them into the ranges. The
   * sidecar's ranges are read and written in this transaction, under SQLite's single write lock, so they
   * say exactly which seqs are stored and every remaining row is new.
   */
  #insertGroup(rows: readonly EventRow[], now: string, keys: FilterKeys): number {
    const s = this.#statements;
    const first = rows[0] as EventRow;
    s.ensureSidecar.run(first.sidecar, first.namespace, first.server, now);
    // Under the write lock: the owner read here is the one that committed first, or this batch's claim.
    checkOwner(first.sidecar, s.owner.get(first.sidecar) as SidecarOwner | undefined, rows);
    const span = nearbySpan(rows);
    const plan = planGroup(rows, s.nearbyRanges.all(first.sidecar, span.low, span.high).map(toRange), now);
    const { fresh } = plan;
    if (fresh.length === 0) return 0;
    const ingestedAt = epochMicros(now);
    const valuesOf = (row: EventRow) => eventValues(row, ingestedAt, keys);
    let inserted = 0;
    let next = 0;
    // Many rows per statement: a bound call costs more than a row's worth of b-tree work.
    for (; next + INSERT_CHUNK <= fresh.length; next += INSERT_CHUNK) {
      const values = fresh.slice(next, next + INSERT_CHUNK).flatMap(valuesOf);
      inserted += Number(s.insertEvents.run(...values).changes);
    }
    for (; next < fresh.length; next++) {
      inserted += Number(s.insertEvent.run(...valuesOf(fresh[next] as EventRow)).changes);
    }
    if (inserted !== fresh.length) {
      throw new AuditStoreError(
        'unavailable',
        `sidecar ${first.sidecar}: seq ranges disagree with stored events`,
      );
    }
    for (const range of plan.ranges.removed) s.deleteRange.run(first.sidecar, range.from);
    for (const range of plan.ranges.added)
      s.insertRange.run(first.sidecar, range.from, range.to, range.storedAt);
    s.advanceSidecar.run(plan.highestSeq, plan.contiguousThrough, first.sidecar);
    return fresh.length;
  }

  async heartbeat(beat: Heartbeat): Promise<void> {
    const { time, lost } = checkedHeartbeat(beat);
    await this.#write(() => {
      const s = this.#statements;
      const now = this.#now();
      const claimant = { namespace: beat.server.namespace, server: beat.server.name };
      s.ensureSidecar.run(beat.sidecar, claimant.namespace, claimant.server, now);
      checkOwner(beat.sidecar, s.owner.get(beat.sidecar) as SidecarOwner | undefined, [claimant]);
      s.heartbeat.run(...heartbeatParams(beat, now, time));
      for (const range of lost) s.recordLost.run(beat.sidecar, range.fromSeq, range.toSeq, range.reason, now);
    });
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const select = eventSelect(query, { param: () => '?', time: epochMicros, equals: dictionaryEquals });
    const statement = this.#db.prepare(`SELECT ingest_id, body FROM events ${select.clause}`);
    // Rows are read one at a time and stop at the page's byte cap, never all `limit` of them at once.
    const read = () => {
      const fill = new PageFill(select.limit);
      const rows: { ingestId: number; body: string }[] = [];
      for (const row of statement.iterate(...(select.params as SQLInputValue[]))) {
        const body = row.body as string;
        if (!fill.take(body.length)) break;
        rows.push({ ingestId: Number(row.ingest_id), body });
      }
      return { rows, full: fill.full };
    };
    if (query.order === 'ingest') {
      // One read transaction: the page and the highest ingest id of the same moment (ingest-page.ts).
      const [{ rows, full }, highest] = this.#transaction(
        () => [read(), Number(this.#statements.lastIngestId.get()?.id ?? 0)] as const,
        'BEGIN',
      );
      const events = rows.map((row) => ({
        ingestId: row.ingestId,
        event: JSON.parse(row.body) as AuditEvent,
      }));
      return ingestPage(events, select.limit, highest, full);
    }
    const { rows, full } = this.#read(read);
    const page = rows.slice(0, select.limit);
    const events = page.map((row) => JSON.parse(row.body) as AuditEvent);
    const last = page.at(-1);
    if ((rows.length <= select.limit && !full) || last === undefined) return { events };
    // The time column holds what storeTime made of the event's time.
    const time = storeTime((events.at(-1) as AuditEvent).time);
    return { events, next: encodeCursor({ time, ingestId: last.ingestId }) };
  }

  async sidecars(): Promise<SidecarState[]> {
    const rows = this.#read(() => this.#statements.sidecars.all()) as unknown as SidecarRow[];
    return rows.map(sidecarState);
  }

  async gaps(olderThan: Date): Promise<Gap[]> {
    const s = this.#statements;
    // One read transaction, so ranges and lost ranges are of the same moment.
    const [ranges, lost] = this.#transaction(() => [s.allRanges.all(), s.allLost.all()] as const, 'BEGIN');
    return gapsOf(
      ranges.map((row) => ({ sidecar: row.sidecar as string, ...toRange(row) })),
      lost as unknown as LostRow[],
      olderThan,
    );
  }

  async deleteBefore(time: Date): Promise<number> {
    const cutoff = storeTime(time.toISOString());
    const s = this.#statements;
    let deleted = 0;
    for (;;) {
      const count = await this.#write(() => {
        const ids = s.oldEvents.all(epochMicros(cutoff), RETENTION_CHUNK).map((row) => row.ingest_id);
        if (ids.length === 0) return 0;
        const list = JSON.stringify(ids);
        for (const row of s.exporterNames.all()) s.unqueueEvents.run(String(row.name), list);
        s.deleteEvents.run(list);
        return ids.length;
      });
      deleted += count;
      if (count < RETENTION_CHUNK) break;
      await nextTurn();
    }
    await this.#deleteUnusedFilterValues();
    return deleted;
  }

  /**
   * Deletes the dictionary's values that no event uses any more (their events deleted, or their batch
   * rolled back after #filterKeys added them), so that retention bounds the dictionary as it bounds the
   * events. In chunks of FILTER_VALUES_CHUNK keys, each its own short transaction; each check is a probe
   * of the three key indexes. A value used again meanwhile is kept: the check runs under the write lock.
   */
  async #deleteUnusedFilterValues(): Promise<void> {
    const s = this.#statements;
    let after = 0;
    for (;;) {
      const keys = await this.#write(() => {
        const chunk = s.filterValueChunk.all(after, FILTER_VALUES_CHUNK).map((row) => Number(row.id));
        if (chunk.length > 0) s.deleteUnusedFilterValues.run(JSON.stringify(chunk));
        return chunk;
      });
      if (keys.length < FILTER_VALUES_CHUNK) return;
      after = keys.at(-1) as number;
      await nextTurn();
    }
  }

  async pendingExport(exporter: string, limit: number): Promise<PendingExport[]> {
    requireExporter(this.#exporters, exporter);
    const rows = this.#read(() => this.#statements.pending.all(exporter, limit));
    return rows.map((row) => ({
      entry: row.ingest_id as number,
      event: JSON.parse(row.body as string) as AuditEvent,
    }));
  }

  async ackExport(exporter: string, entries: readonly number[]): Promise<void> {
    requireExporter(this.#exporters, exporter);
    await this.#write(() => {
      for (const entry of entries) this.#statements.ack.run(exporter, entry);
    });
  }

  async exportBacklog(exporter: string): Promise<number> {
    requireExporter(this.#exporters, exporter);
    const row = this.#read(() => this.#statements.backlog.get(exporter));
    return Number(row?.count ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Batches already accepted for commit are committed, not dropped.
    while (this.#committing !== undefined || this.#waiting.length > 0) await this.#commitGroup();
    this.#closed = true;
    this.#db.close();
  }

  /**
   * A write transaction that waits for a lock held by another connection without blocking the event loop.
   * node:sqlite is synchronous, so SQLite's own busy handler (busy_timeout) would sleep on the event loop:
   * a lock held by another process stopped queries, heartbeats and /metrics for the whole 5 s (issue 16).
   * Instead the connection has busy_timeout 0, BEGIN IMMEDIATE fails at once with SQLITE_BUSY, and this
   * tries again after a short asynchronous pause (1 ms doubling to 50 ms, as SQLite's handler sleeps),
   * until busyTimeoutMs. Chosen over a worker thread for the store: the wait was the only blocking that
   * is unbounded by our own work (a transaction is bounded by GROUP_COMMIT_EVENTS and RETENTION_CHUNK);
   * reads never wait in WAL mode, so only writes need this.
   */
  async #write<T>(work: () => T): Promise<T> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    let pause = 1;
    for (;;) {
      try {
        return this.#transaction(work);
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw error;
      }
      this.#onLockWait?.();
      await sleep(pause);
      pause = Math.min(pause * 2, 50);
    }
  }

  /**
   * Runs `work` in one transaction. BEGIN IMMEDIATE takes the write lock up front: a deferred transaction
   * that upgrades from reading to writing fails with SQLITE_BUSY at once instead of waiting busy_timeout.
   */
  #transaction<T>(work: () => T, begin = 'BEGIN IMMEDIATE'): T {
    this.#open();
    try {
      this.#db.exec(begin);
    } catch (error) {
      throw storeError(error);
    }
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw storeError(error);
    }
  }

  #read<T>(work: () => T): T {
    this.#open();
    try {
      return work();
    } catch (error) {
      throw storeError(error);
    }
  }

  #open(): void {
    if (this.#closed) throw new AuditStoreError('unavailable', 'the store is closed');
  }
}

function prepare(db: DatabaseSync) {
  const statement = (sql: string): StatementSync => db.prepare(sql);
  return {
    ensureSidecar: statement(
      'INSERT INTO sidecars (sidecar, namespace, server, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    owner: statement('SELECT namespace, server FROM sidecars WHERE sidecar = ?'),
    nearbyRanges: statement(
      'SELECT from_seq, to_seq, stored_at FROM seq_ranges WHERE sidecar = ? AND to_seq >= ? AND from_seq <= ?',
    ),
    filterValueKey: statement('SELECT id FROM filter_values WHERE value = ?'),
    addFilterValue: statement('INSERT INTO filter_values (value) VALUES (?) RETURNING id'),
    filterValueChunk: statement('SELECT id FROM filter_values WHERE id > ? ORDER BY id LIMIT ?'),
    deleteUnusedFilterValues: statement(
      `DELETE FROM filter_values WHERE id IN (SELECT value FROM json_each(?))
       ${dictionaryColumns
         .map(([, column]) => `AND NOT EXISTS (SELECT 1 FROM events WHERE ${column} = filter_values.id)`)
         .join(' ')}`,
    ),
    insertEvent: statement(insertEventsSql(1)),
    insertEvents: statement(insertEventsSql(INSERT_CHUNK)),
    lastIngestId: statement('SELECT max(ingest_id) AS id FROM events'),
    queueExports: statement(
      `INSERT INTO export_queue (exporter, ingest_id)
       SELECT x.value, e.ingest_id FROM events e, json_each(?) x WHERE e.ingest_id > ?`,
    ),
    deleteRange: statement('DELETE FROM seq_ranges WHERE sidecar = ? AND from_seq = ?'),
    insertRange: statement(
      'INSERT INTO seq_ranges (sidecar, from_seq, to_seq, stored_at) VALUES (?, ?, ?, ?)',
    ),
    advanceSidecar: statement(
      `UPDATE sidecars SET highest_seq = max(highest_seq, ?), contiguous_through = max(contiguous_through, ?)
       WHERE sidecar = ?`,
    ),
    // Heartbeats may arrive out of order (retries, two replicas): the newest one describes the sidecar.
    // Never its owner (namespace, server): that is claimed once and compared (sidecar-owner.ts).
    heartbeat: statement(
      `INSERT INTO sidecars (sidecar, namespace, server, pod, first_seen, last_heartbeat, reported_seq, policy_hash, tools)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (sidecar) DO UPDATE SET
         reported_seq = max(reported_seq, excluded.reported_seq),
         pod = iif(newer, excluded.pod, pod),
         policy_hash = iif(newer, excluded.policy_hash, policy_hash),
         tools = iif(newer, excluded.tools, tools),
         last_heartbeat = iif(newer, excluded.last_heartbeat, last_heartbeat)`.replaceAll(
        'newer',
        '(last_heartbeat IS NULL OR excluded.last_heartbeat >= last_heartbeat)',
      ),
    ),
    recordLost: statement(
      `INSERT INTO lost_ranges (sidecar, from_seq, to_seq, reason, reported_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    sidecars: statement('SELECT * FROM sidecars ORDER BY sidecar'),
    allRanges: statement(
      'SELECT sidecar, from_seq, to_seq, stored_at FROM seq_ranges ORDER BY sidecar, from_seq',
    ),
    allLost: statement(
      'SELECT sidecar, from_seq, to_seq, reason FROM lost_ranges ORDER BY sidecar, from_seq',
    ),
    oldEvents: statement('SELECT ingest_id FROM events WHERE time < ? LIMIT ?'),
    exporterNames: statement('SELECT name FROM exporters'),
    unqueueEvents: statement(
      'DELETE FROM export_queue WHERE exporter = ? AND ingest_id IN (SELECT value FROM json_each(?))',
    ),
    deleteEvents: statement('DELETE FROM events WHERE ingest_id IN (SELECT value FROM json_each(?))'),
    pending: statement(
      `SELECT q.ingest_id, e.body FROM export_queue q JOIN events e ON e.ingest_id = q.ingest_id
       WHERE q.exporter = ? ORDER BY q.ingest_id LIMIT ?`,
    ),
    ack: statement('DELETE FROM export_queue WHERE exporter = ? AND ingest_id = ?'),
    backlog: statement('SELECT count(*) AS count FROM export_queue WHERE exporter = ?'),
  };
}

/**
 * The store's settings on a new connection. `pageBytes` is for benchmarks that compare page sizes.
 */
export function configureConnection(db: DatabaseSync, pageBytes = NEW_DATABASE_PAGE_BYTES): void {
  // A new database gets 16 KiB pages (SQLite's default is 4): fewer pages split, journaled and written
  // per event, about 20 % less of SQLite's own CPU per event (end to end, +2.5 % events per CPU second:
  // docs/performance.md). Takes effect only on a database not yet written; an existing one keeps its size.
  db.exec(`PRAGMA page_size = ${pageBytes}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  // Index pages of a busy store stay in memory: inserts touch seven b-trees per event.
  db.exec('PRAGMA cache_size = -65536');
  // Checkpoint every 16 MiB of WAL rather than 4: an index page dirtied by many commits is copied
  // into the database once per checkpoint (measured: about 5% less CPU per event).
  const pageSize = Number(db.prepare('PRAGMA page_size').get()?.page_size);
  db.exec(`PRAGMA wal_autocheckpoint = ${Math.max(1, Math.round(CHECKPOINT_WAL_BYTES / pageSize))}`);
}

function migrate(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const current = Number(db.prepare('SELECT max(version) AS v FROM schema_version').get()?.v ?? 0);
    if (current > sqliteMigrations.length) {
      throw new AuditStoreError(
        'unavailable',
        `the database has schema version ${current}; this collector knows up to ${sqliteMigrations.length}`,
      );
    }
    for (const [index, statements] of sqliteMigrations.entries()) {
      if (index < current) continue;
      for (const sql of statements) db.exec(sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(index + 1);
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/**
 * OR FAIL: a row that breaks a constraint (NOT NULL, the seq CHECK) stops the statement with an error and
 * keeps the rows before it, where the default (ABORT) undoes them. The batch's savepoint undoes them either
 * way (#insertBatch), and FAIL spares SQLite the statement journal ABORT needs: a copy of every page each
 * multi-row statement touches, written to a temporary file, which cost more than the index updates
 * themselves (bench/micro/sqlite-indexes.ts). Duplicates of (sidecar, seq) are skipped by the upsert.
 */
export function insertEventsSql(rows: number): string {
  const row = `(${new Array(13).fill('?').join(', ')})`;
  return `INSERT OR FAIL INTO events (sidecar, seq, time, namespace, server, tool_id, user_id, agent, tenant_id,
      decision, kind, body, ingested_at)
    VALUES ${new Array(rows).fill(row).join(', ')}
    ON CONFLICT (sidecar, seq) DO NOTHING`;
}

function eventValues(row: EventRow, ingestedAt: number | bigint, keys: FilterKeys): SQLInputValue[] {
  return [
    row.sidecar,
    row.seq,
    epochMicros(row.time),
    row.namespace,
    row.server,
    filterKey(keys, row.tool),
    filterKey(keys, row.user),
    row.agent,
    filterKey(keys, row.tenant),
    row.decision,
    row.kind,
    row.body,
    ingestedAt,
  ];
}

/** A filter on a dictionary-encoded field matches its key: none (NULL, no row) for a value never stored. */
function dictionaryEquals(field: FilterField, _column: string, param: string): string | undefined {
  const encoded = dictionaryColumns.find(([name]) => name === field);
  return encoded && `${encoded[1]} = (SELECT id FROM filter_values WHERE value = ${param})`;
}

function toRange(row: Record<string, SQLOutputValue>): SeqRange {
  return { from: Number(row.from_seq), to: Number(row.to_seq), storedAt: String(row.stored_at) };
}

/** SQLite's errors as the store's codes: constraint violations are the batch's fault, the rest the store's. */
function storeError(error: unknown): AuditStoreError {
  if (error instanceof AuditStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes('constraint failed')) {
    return new AuditStoreError('invalid_event', `the batch violates a constraint: ${message}`, {
      cause: error,
    });
  }
  return new AuditStoreError('unavailable', `SQLite: ${message}`, { cause: error });
}

/** SQLITE_BUSY (5, and its extended codes): another connection holds the lock. */
function isBusy(error: unknown): boolean {
  const cause = error instanceof AuditStoreError ? error.cause : error;
  const code = (cause as { errcode?: unknown } | undefined)?.errcode;
  return typeof code === 'number' && (code & 0xff) === 5;
}
