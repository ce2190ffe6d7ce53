import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteAuditStore } from './sqlite.ts';
import { auditStoreConformance } from './store-conformance.ts';
import { testEvents } from './test-events.ts';

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

  it('migrates once, and refuses a database from a newer collector', async () => {
    const path = newPath();
    await (await SqliteAuditStore.open({ path })).close();
    await (await SqliteAuditStore.open({ path })).close();
    const db = new DatabaseSync(path);
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: 1 }]);
    db.prepare('INSERT INTO schema_version (version) VALUES (99)').run();
    db.close();
    await expect(SqliteAuditStore.open({ path })).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('refuses calls after close', async () => {
    const store = await SqliteAuditStore.open({ path: ':memory:' });
    await store.close();
    await expect(store.insert(testEvents('sc-a', 1, 1))).rejects.toMatchObject({ code: 'unavailable' });
  });
});
