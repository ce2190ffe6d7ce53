import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAuditStore } from '../../collector/store/postgres.ts';
import { auditStoreConformance } from '../../collector/store/store-conformance.ts';
import { testEvents } from '../../collector/store/test-events.ts';
import { startPostgres, type PostgresServer } from '../harness/postgres.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

let databases = 0;
/** A database of its own per test, on the one server of this file. */
async function newDatabase(): Promise<string> {
  return server.createDatabase(`audit_${++databases}`);
}

auditStoreConformance('PostgreSQL', {
  async database() {
    const connectionString = await newDatabase();
    return {
      open: (options) => PostgresAuditStore.open({ ...options, connectionString }),
      async failInserts(sidecar, seq) {
        const client = new pg.Client({ connectionString });
        await client.connect();
        try {
          await client.query(`CREATE OR REPLACE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.sidecar = TG_ARGV[0] AND NEW.seq = TG_ARGV[1]::bigint THEN
                RAISE EXCEPTION 'refused by a test trigger';
              END IF;
              RETURN NEW;
            END $$`);
          await client.query(
            `CREATE TRIGGER ${pg.escapeIdentifier(`fail_${sidecar}_${seq}`)} BEFORE INSERT ON events
             FOR EACH ROW EXECUTE FUNCTION fail_insert(${pg.escapeLiteral(sidecar)}, '${seq}')`,
          );
        } finally {
          await client.end();
        }
      },
    };
  },
});

describe('PostgresAuditStore', () => {
  it('migrates once when replicas start together, and refuses a database from a newer collector', async () => {
    const connectionString = await newDatabase();
    const stores = await Promise.all(
      Array.from({ length: 4 }, () => PostgresAuditStore.open({ connectionString })),
    );
    await Promise.all(stores.map((store) => store.close()));
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      expect((await client.query('SELECT version FROM schema_version')).rows).toEqual([{ version: 1 }]);
      await client.query('INSERT INTO schema_version (version) VALUES (99)');
    } finally {
      await client.end();
    }
    await expect(PostgresAuditStore.open({ connectionString })).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('keeps every acknowledged batch through a server crash, and answers unavailable while it is down', async () => {
    // A server of its own: crash recovery then replays this test's WAL only.
    const crashing = await startPostgres();
    const store = await PostgresAuditStore.open({ connectionString: crashing.url, exporters: ['otlp'] });
    try {
      for (let from = 1; from <= 1_000; from += 100) await store.insert(testEvents('sc-a', from, from + 99));
      await crashing.restart('crash');
      // The pool's connections died with the server: the first call on each may fail, then it recovers.
      let recovered = false;
      for (let attempt = 0; attempt < 20 && !recovered; attempt++) {
        recovered = await store.sidecars().then(
          () => true,
          (error: unknown) => {
            expect(error).toMatchObject({ code: 'unavailable' });
            return false;
          },
        );
      }
      expect(recovered).toBe(true);
      expect(await store.sidecars()).toEqual([expect.objectContaining({ contiguousThrough: 1_000 })]);
      expect(await store.exportBacklog('otlp')).toBe(1_000);
      expect(await store.insert(testEvents('sc-a', 990, 1_010))).toEqual({ accepted: 10, duplicates: 11 });
    } finally {
      await store.close();
      await crashing.stop();
    }
  });
});
