import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditQuery } from '../../api/audit/v1/query.ts';
import { SqliteAuditStore } from './sqlite.ts';
import { sqliteMigrations } from './sqlite-schema.ts';
import { createVersion2Schema, version2InsertSql } from './version-2-store.ts';
import { auditStoreConformance } from './store-conformance.ts';
import { testEvents } from './test-events.ts';

const storeModule = new URL('./sqlite.ts', import.meta.url).href;
const eventsModule = new URL('./test-events.ts', import.meta.url).href;

/**
 * Runs `body` in a separate Node process with `store` (a SqliteAuditStore on `path`) and `testEvents` in
 * scope; resolves with its stdout lines as they come. Another process is another SQLite connection with
 * its own locks, and one we can kill.
 */
function child(path: string, body: string, onLine: (line: string) => void = () => {}) {
  const code = `
    const { SqliteAuditStore } = await import(${JSON.stringify(storeModule)});
    const { testEvents } = await import(${JSON.stringify(eventsModule)});
    const store = await SqliteAuditStore.open({ path: ${JSON.stringify(path)}, exporters: ['otlp'] });
    ${body}
    await store.close();`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      onLine(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited };
}

const root = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let databases = 0;
const newPath = (): string => join(root, `audit-${++databases}.db`);

auditStoreConformance('SQLite', {
  async database() {
    const path = newPath();
    return {
      open: (options) => SqliteAuditStore.open({ ...options, path }),
      async failInserts(sidecar, seq) {
        const db = new DatabaseSync(path);
        db.exec(
          `CREATE TRIGGER fail_${sidecar.replace(/\W/g, '_')}_${seq} BEFORE INSERT ON events
           WHEN NEW.sidecar = '${sidecar}' AND NEW.seq = ${seq}
           BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`,
        );
        db.close();
      },
    };
  },
});

describe('SqliteAuditStore', () => {
  it('commits durably: WAL journal, synchronous FULL', async () => {
    const store = await SqliteAuditStore.open({ path: newPath() });
    expect(store.durability).toEqual({ journalMode: 'wal', synchronous: 2 });
    await store.close();
  });

  it('creates databases with 16 KiB pages, and keeps the page size of one it did not create', async () => {
    const pageBytes = (path: string) => {
      const db = new DatabaseSync(path);
      try {
        return Number(db.prepare('PRAGMA page_size').get()?.page_size);
      } finally {
        db.close();
      }
    };
    const created = newPath();
    await (await SqliteAuditStore.open({ path: created })).close();
    expect(pageBytes(created)).toBe(16_384);
    // A store of an earlier version: SQLite's default 4 KiB pages, already written.
    const earlier = newPath();
    const db = new DatabaseSync(earlier);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    db.close();
    const store = await SqliteAuditStore.open({ path: earlier });
    expect(await store.insert(testEvents('s1', 1, 60))).toEqual({ accepted: 60, duplicates: 0 });
    expect((await store.query(auditQuery.parse({ limit: 100 }))).events).toHaveLength(60);
    await store.close();
    expect(pageBytes(earlier)).toBe(4_096);
  });

  it('migrates once, and refuses a database from a newer collector', async () => {
    const path = newPath();
    await (await SqliteAuditStore.open({ path })).close();
    await (await SqliteAuditStore.open({ path })).close();
    const db = new DatabaseSync(path);
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual(
      sqliteMigrations.map((_, index) => ({ version: index + 1 })),
    );
    db.prepare('INSERT INTO schema_version (version) VALUES (99)').run();
    db.close();
    await expect(SqliteAuditStore.open({ path })).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('stores nothing of a batch whose many-row statement fails midway, however far that statement got', async () => {
    const path = newPath();
    const store = await SqliteAuditStore.open({ path });
    // RAISE(FAIL) keeps the rows its statement wrote before it, as the events INSERT (OR FAIL) does on a
    // constraint: rows 51-74 of the batch's second 50-row statement are in the table when seq 75 fails.
    const db = new DatabaseSync(path);
    db.exec(`CREATE TRIGGER fail_75 BEFORE INSERT ON events WHEN NEW.seq = 75
             BEGIN SELECT RAISE(FAIL, 'refused by a test trigger'); END`);
    await expect(store.insert(testEvents('sc-a', 1, 120))).rejects.toMatchObject({ code: 'unavailable' });
    expect(db.prepare('SELECT count(*) AS n FROM events').get()?.n).toBe(0);
    expect(db.prepare('SELECT count(*) AS n FROM seq_ranges').get()?.n).toBe(0);
    db.exec('DROP TRIGGER fail_75');
    db.close();
    expect(await store.insert(testEvents('sc-a', 1, 120))).toEqual({ accepted: 120, duplicates: 0 });
    await store.close();
  });

  it('keeps every acknowledged batch when the writing process is killed', async () => {
    const path = newPath();
    let acked = 0;
    const writer = child(
      path,
      `for (let from = 1; ; from += 100) {
         await store.insert(testEvents('sc-a', from, from + 99));
         console.log(from + 99);
       }`,
      (line) => {
        acked = Number(line);
        if (acked >= 2_000) writer.proc.kill('SIGKILL');
      },
    );
    await writer.exited;
    expect(acked).toBeGreaterThanOrEqual(2_000);
    const store = await SqliteAuditStore.open({ path, exporters: ['otlp'] });
    const [state] = await store.sidecars();
    expect(state?.contiguousThrough).toBeGreaterThanOrEqual(acked);
    expect(await store.exportBacklog('otlp')).toBe(state?.contiguousThrough);
    await store.close();
  });

  it('stores each event once when two processes write overlapping batches to one file', async () => {
    const path = newPath();
    await (await SqliteAuditStore.open({ path })).close(); // schema first: both writers then only insert
    const writer = (offset: number) =>
      child(
        path,
        `let accepted = 0;
         for (let from = 1 + ${offset}; from <= 3_000; from += 100) {
           for (const sc of ['sc-a', 'sc-b']) accepted += (await store.insert(testEvents(sc, from, from + 149))).accepted;
         }
         console.log(accepted);`,
        (line) => results.push(Number(line)),
      );
    const results: number[] = [];
    const codes = await Promise.all([writer(0).exited, writer(50).exited]);
    expect(codes).toEqual([0, 0]);
    const store = await SqliteAuditStore.open({ path, exporters: ['otlp'] });
    const states = await store.sidecars();
    const highest = states[0]!.highestSeq;
    expect(results.reduce((a, b) => a + b, 0)).toBe(2 * highest);
    expect(states.map((s) => s.contiguousThrough)).toEqual([highest, highest]);
    expect(await store.gaps(new Date(Date.now() + 60_000))).toEqual([]);
    await store.close();
  });

  it('keeps every key right while two processes write and a third runs retention on one file', async () => {
    // Users come back: user-k is used by seqs [20k, 20k + 20) of every 200, so retention (trailing the
    // writers by ~60 seqs) deletes a user's last events, and its value, before a writer uses it again.
    // A key cached across transactions, or read outside the write lock, would then name a deleted value.
    const path = newPath();
    await (await SqliteAuditStore.open({ path })).close();
    const SEQS = 1_200;
    const events = `(sc, from) => testEvents(sc, from, from + 39).map((event) => ({
        ...event,
        user: 'user-' + (Math.floor(event.seq / 20) % 10),
        tool: 'tool-' + (event.seq % 3),
        tenant: event.seq % 2 === 0 ? 'even' : undefined,
      }))`;
    const writer = (sidecar: string) =>
      child(
        path,
        `const events = ${events};
         for (let from = 1; from <= ${SEQS}; from += 40) {
           await store.insert(events('${sidecar}', from));
           await new Promise((resolve) => setTimeout(resolve, 5)); // room for retention between batches
         }`,
      );
    // Retention starts first and says so, so that it runs between the writers' batches from the first.
    let started: () => void = () => {};
    const retentionStarted = new Promise<void>((resolve) => (started = resolve));
    const retention = child(
      path,
      `console.log('started');
       for (;;) {
         const states = await store.sidecars();
         const behind = Math.min(...states.map((state) => state.highestSeq), ${SEQS}) - 60;
         if (states.length === 2 && behind >= ${SEQS - 60}) break;
         if (behind > 0) await store.deleteBefore(new Date(Date.UTC(2026, 0, 1) + behind * 1000));
         await new Promise((resolve) => setTimeout(resolve, 2));
       }`,
      () => started(),
    );
    await retentionStarted;
    const codes = await Promise.all([writer('sc-a').exited, writer('sc-b').exited, retention.exited]);
    expect(codes).toEqual([0, 0, 0]);

    const store = await SqliteAuditStore.open({ path });
    const kept = (await store.query(auditQuery.parse({ limit: 10_000, order: 'asc' }))).events;
    expect(kept.length).toBeGreaterThan(0);
    const keyOf = (event: { sidecar: string; seq: number }) => `${event.sidecar}/${event.seq}`;
    for (const field of ['user', 'tool', 'tenant'] as const) {
      for (const value of new Set(kept.map((event) => event[field]).filter((v) => v !== undefined))) {
        const found = await store.query(auditQuery.parse({ [field]: value, limit: 10_000, order: 'asc' }));
        expect(found.events.map(keyOf), `${field}=${value}`).toEqual(
          kept.filter((event) => event[field] === value).map(keyOf),
        );
      }
    }
    // What retention left in the dictionary is exactly what the kept events use.
    await store.deleteBefore(new Date(Date.UTC(2026, 0, 1)));
    await store.close();
    const db = new DatabaseSync(path);
    const values = db
      .prepare('SELECT value FROM filter_values')
      .all()
      .map((row) => String(row.value));
    db.close();
    const used = new Set(kept.flatMap((event) => [event.user, event.tool, event.tenant]));
    used.delete(undefined);
    expect(values.sort()).toEqual([...used].sort());
  });

  it('waits for a lock held by another connection off the event loop, then commits', async () => {
    const path = newPath();
    let waits = 0;
    const store = await SqliteAuditStore.open({ path, onLockWait: () => waits++ });
    await store.insert(testEvents('sc-a', 1, 2));
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    const order: string[] = [];
    const insert = store.insert(testEvents('sc-a', 3, 4)).then((result) => {
      order.push('insert');
      return result;
    });
    try {
      // The write is waiting (it said so) while the event loop turns; meanwhile a read is answered.
      for (let turn = 0; waits === 0 && turn < 1_000_000; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(waits).toBeGreaterThan(0);
      const page = await store.query(auditQuery.parse({ order: 'asc' }));
      order.push('query');
      expect(page.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(order).toEqual(['query']);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(await insert).toEqual({ accepted: 2, duplicates: 0 });
    expect(order).toEqual(['query', 'insert']);
    await store.close();
  });

  it('gives up on a lock held past busyTimeoutMs as unavailable, storing nothing', async () => {
    const path = newPath();
    const store = await SqliteAuditStore.open({ path, busyTimeoutMs: 50 });
    const other = new DatabaseSync(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.insert(testEvents('sc-a', 1, 1))).rejects.toMatchObject({ code: 'unavailable' });
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect((await store.query(auditQuery.parse({}))).events).toEqual([]);
    await store.close();
  });

  it('indexes the keys of user, tool and tenant only where set, and its queries use those indexes', async () => {
    const path = newPath();
    const store = await SqliteAuditStore.open({ path });
    await store.insert([
      ...testEvents('s1', 1, 3),
      ...testEvents('s1', 4, 5, {
        kind: 'egress',
        method: 'egress',
        user: undefined,
        tool: undefined,
        tenant: undefined,
      }),
    ]);
    const db = new DatabaseSync(path);
    const entries = (index: string, column: string) =>
      db.prepare(`SELECT count(*) AS n FROM events INDEXED BY ${index} WHERE ${column} IS NOT NULL`).get()?.n;
    for (const [index, column] of [
      ['events_user_time', 'user_id'],
      ['events_tool_time', 'tool_id'],
      ['events_tenant_time', 'tenant_id'],
    ] as const) {
      expect(entries(index, column), index).toBe(3);
      // The filter as the store writes it (event-query.ts with the SQLite dialect): the key looked up.
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT ingest_id, body FROM events
           WHERE ${column} = (SELECT id FROM filter_values WHERE value = ?)
           ORDER BY time DESC, ingest_id DESC LIMIT 11`,
        )
        .all('x')
        .map((row) => String(row.detail));
      expect(plan.join('\n'), index).toContain(`USING INDEX ${index}`);
      // Retention's check that no event uses a value any more probes the same index.
      const unused = db
        .prepare(`EXPLAIN QUERY PLAN SELECT 1 FROM events WHERE ${column} = ?`)
        .all(1)
        .map((row) => String(row.detail));
      expect(unused.join('\n'), index).toContain(`USING COVERING INDEX ${index}`);
    }
    // One row per distinct value: alice, search, acme.
    expect(db.prepare('SELECT value FROM filter_values ORDER BY value').all()).toEqual([
      { value: 'acme' },
      { value: 'alice' },
      { value: 'search' },
    ]);
    db.close();
    const page = await store.query(auditQuery.parse({ tenant: 'acme' }));
    expect(page.events.map((event) => event.seq).sort()).toEqual([1, 2, 3]);
    expect((await store.query(auditQuery.parse({}))).events).toHaveLength(5);
    await store.close();
  });

  it('migrates a version 2 database: every event kept, found by its values, ingest ids never reused', async () => {
    const path = newPath();
    const db = new DatabaseSync(path);
    createVersion2Schema(db);
    // Rows as version 2 wrote them (text columns); then retention deleted the newest one, ingest id 6.
    const insert = db.prepare(version2InsertSql(1));
    const legacy = [
      ...testEvents('s1', 1, 3),
      ...testEvents('s1', 4, 4, { user: 'bob', tool: 'fetch', tenant: undefined }),
      ...testEvents('s1', 5, 6, { kind: 'egress', user: undefined, tool: undefined, tenant: undefined }),
    ];
    for (const event of legacy)
      insert.run(
        event.sidecar,
        event.seq,
        event.id,
        Date.parse(event.time) * 1000,
        event.server.namespace,
        event.server.name,
        event.tool ?? null,
        event.user ?? null,
        event.agent ?? null,
        event.tenant ?? null,
        event.decision,
        event.kind,
        event.code ?? null,
        event.policyHash ?? null,
        event.requestId,
        JSON.stringify(event),
        '2026-02-03T04:05:06.123456Z',
      );
    db.exec(`INSERT INTO sidecars (sidecar, namespace, server, first_seen, highest_seq, contiguous_through)
             VALUES ('s1', 'team-a', 'docs', '2026-02-03T04:05:06.123456Z', 6, 6)`);
    db.exec(`INSERT INTO seq_ranges VALUES ('s1', 1, 6, '2026-02-03T04:05:06.123456Z')`);
    db.exec('DELETE FROM events WHERE ingest_id = 6');
    db.close();

    const store = await SqliteAuditStore.open({ path });
    const seqs = async (filter: Record<string, string>) =>
      (await store.query(auditQuery.parse({ ...filter, order: 'asc' }))).events.map((event) => event.seq);
    expect(await seqs({ user: 'alice' })).toEqual([1, 2, 3]);
    expect(await seqs({ user: 'bob' })).toEqual([4]);
    expect(await seqs({ tool: 'fetch' })).toEqual([4]);
    expect(await seqs({ tenant: 'acme' })).toEqual([1, 2, 3]);
    expect(await seqs({ kind: 'egress' })).toEqual([5]);
    expect(await seqs({})).toEqual([1, 2, 3, 4, 5]);
    expect((await store.query(auditQuery.parse({ order: 'asc' }))).events[3]).toEqual(legacy[3]);
    expect(await store.insert(testEvents('s1', 1, 7))).toEqual({ accepted: 1, duplicates: 6 });
    await store.close();

    const migrated = new DatabaseSync(path);
    const rows = migrated.prepare('SELECT ingest_id, seq, ingested_at FROM events ORDER BY ingest_id').all();
    // Ingest ids 1-5 kept; seq 7 gets 7, not the 6 retention freed.
    expect(rows.map((row) => [row.ingest_id, row.seq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
      [7, 7],
    ]);
    expect(rows[0]?.ingested_at).toBe(Date.UTC(2026, 1, 3, 4, 5, 6) * 1000 + 123_456);
    migrated.close();
  });

  it('carries the ingest id high-water mark across the rebuild when retention had emptied the table', async () => {
    const path = newPath();
    const db = new DatabaseSync(path);
    createVersion2Schema(db);
    db.exec(`INSERT INTO sqlite_sequence (name, seq) VALUES ('events', 41)`);
    db.close();
    const store = await SqliteAuditStore.open({ path });
    await store.insert(testEvents('s1', 1, 1));
    await store.close();
    const migrated = new DatabaseSync(path);
    expect(migrated.prepare('SELECT ingest_id FROM events').all()).toEqual([{ ingest_id: 42 }]);
    migrated.close();
  });

  it('deletes dictionary values no event uses once retention has deleted their events', async () => {
    const path = newPath();
    const store = await SqliteAuditStore.open({ path });
    // seq 1-2 (2026-01-01T00:00:01-02) alice/search/acme; seq 3 bob/fetch; seq 4 alice as a tool name.
    await store.insert([
      ...testEvents('s1', 1, 2),
      ...testEvents('s1', 3, 3, { user: 'bob', tool: 'fetch', tenant: undefined }),
      ...testEvents('s1', 4, 4, { user: 'carol', tool: 'alice', tenant: 'acme' }),
    ]);
    const values = () => {
      const db = new DatabaseSync(path);
      try {
        return db
          .prepare('SELECT value FROM filter_values ORDER BY value')
          .all()
          .map((row) => row.value);
      } finally {
        db.close();
      }
    };
    expect(values()).toEqual(['acme', 'alice', 'bob', 'carol', 'fetch', 'search']);
    // Deletes seq 1-3: alice survives as seq 4's tool, acme as its tenant; search, bob and fetch go.
    expect(await store.deleteBefore(new Date(Date.UTC(2026, 0, 1, 0, 0, 4)))).toBe(3);
    expect(values()).toEqual(['acme', 'alice', 'carol']);
    expect((await store.query(auditQuery.parse({ tool: 'alice' }))).events.map((e) => e.seq)).toEqual([4]);
    expect((await store.query(auditQuery.parse({ user: 'alice' }))).events).toEqual([]);
    // A value deleted and seen again gets a new key, and is found by it.
    await store.insert(testEvents('s1', 5, 5, { user: 'bob' }));
    expect((await store.query(auditQuery.parse({ user: 'bob' }))).events.map((e) => e.seq)).toEqual([5]);
    expect(await store.deleteBefore(new Date(Date.UTC(2026, 0, 2)))).toBe(2);
    expect(values()).toEqual([]);
    await store.close();
  });

  it('keeps the values of a batch rolled back out of the events but deletes them with retention', async () => {
    const path = newPath();
    const store = await SqliteAuditStore.open({ path });
    const db = new DatabaseSync(path);
    db.exec(`CREATE TRIGGER fail_2 BEFORE INSERT ON events WHEN NEW.seq = 2
             BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`);
    await expect(store.insert(testEvents('s1', 1, 2, { user: 'mallory' }))).rejects.toBeDefined();
    expect(db.prepare('SELECT count(*) AS n FROM events').get()?.n).toBe(0);
    db.exec('DROP TRIGGER fail_2');
    expect(await store.deleteBefore(new Date(Date.UTC(2026, 0, 1)))).toBe(0);
    expect(db.prepare('SELECT count(*) AS n FROM filter_values').get()?.n).toBe(0);
    db.close();
    await store.close();
  });

  it('stores and finds a user whose name holds a lone surrogate, as U+FFFD', async () => {
    const store = await SqliteAuditStore.open({ path: newPath() });
    await store.insert([
      ...testEvents('s1', 1, 1, { user: 'a\ud800b' }),
      ...testEvents('s1', 2, 2, { user: 'a\ufffdb' }),
    ]);
    const seqs = async (user: string) =>
      (await store.query(auditQuery.parse({ user, order: 'asc' }))).events.map((event) => event.seq);
    expect(await seqs('a\ud800b')).toEqual([1, 2]);
    expect(await seqs('a\ufffdb')).toEqual([1, 2]);
    const [first] = (await store.query(auditQuery.parse({ order: 'asc' }))).events;
    expect(first?.user).toBe('a\ud800b');
    await store.close();
  });

  it('refuses calls after close', async () => {
    const store = await SqliteAuditStore.open({ path: ':memory:' });
    await store.close();
    await expect(store.insert(testEvents('sc-a', 1, 1))).rejects.toMatchObject({ code: 'unavailable' });
  });
});
