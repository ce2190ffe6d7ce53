import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditQuery } from '../../api/audit/v1/query.ts';
import { SqliteAuditStore } from './sqlite.ts';
import { sqliteMigrations } from './sqlite-schema.ts';
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
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: 1 }, { version: 2 }]);
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

  it('indexes user, tool and tenant only where set, and its queries still use those indexes', async () => {
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
      ['events_user_time', 'user_name'],
      ['events_tool_time', 'tool'],
      ['events_tenant_time', 'tenant'],
    ] as const) {
      expect(entries(index, column), index).toBe(3);
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT ingest_id, body FROM events WHERE ${column} = ? ORDER BY time DESC, ingest_id DESC LIMIT 11`,
        )
        .all('x')
        .map((row) => String(row.detail));
      expect(plan.join('\n'), index).toContain(`USING INDEX ${index}`);
    }
    db.close();
    const page = await store.query(auditQuery.parse({ tenant: 'acme' }));
    expect(page.events.map((event) => event.seq).sort()).toEqual([1, 2, 3]);
    expect((await store.query(auditQuery.parse({}))).events).toHaveLength(5);
    await store.close();
  });

  it('migrates a version 1 database: every event kept and found by the rebuilt indexes', async () => {
    const path = newPath();
    const db = new DatabaseSync(path);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const sql of sqliteMigrations[0]!) db.exec(sql);
    db.exec('INSERT INTO schema_version (version) VALUES (1)');
    db.close();
    const first = await SqliteAuditStore.open({ path });
    expect(await first.insert(testEvents('s1', 1, 4))).toEqual({ accepted: 4, duplicates: 0 });
    await first.close();
    // The rows were written under version 2's code; put the database back to version 1's indexes.
    const old = new DatabaseSync(path);
    old.exec('DELETE FROM schema_version WHERE version = 2');
    for (const [name, columns] of [
      ['events_user_time', 'user_name, time'],
      ['events_tool_time', 'tool, time'],
      ['events_tenant_time', 'tenant, time'],
    ])
      old.exec(`DROP INDEX ${name}; CREATE INDEX ${name} ON events (${columns})`);
    old.close();
    const store = await SqliteAuditStore.open({ path });
    expect((await store.query(auditQuery.parse({ user: 'alice' }))).events).toHaveLength(4);
    expect((await store.query(auditQuery.parse({ tool: 'search' }))).events).toHaveLength(4);
    expect(await store.insert(testEvents('s1', 1, 5))).toEqual({ accepted: 1, duplicates: 4 });
    await store.close();
  });

  it('refuses calls after close', async () => {
    const store = await SqliteAuditStore.open({ path: ':memory:' });
    await store.close();
    await expect(store.insert(testEvents('sc-a', 1, 1))).rejects.toMatchObject({ code: 'unavailable' });
  });
});
