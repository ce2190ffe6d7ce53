import { readFile } from 'node:fs/promises';
import type { CollectorConfig } from './config.ts';
import type { AuditStore } from './store/store.ts';

/**
 * The store the configuration names, with an export queue per configured exporter. Each store is
 * imported only when chosen, so a SQLite collector never loads the PostgreSQL driver.
 */
export async function openStore(
  config: CollectorConfig,
  hooks: { onLockWait?: () => void } = {},
): Promise<AuditStore> {
  const exporters = [...config.export];
  if (config.store === 'sqlite') {
    const { SqliteAuditStore } = await import('./store/sqlite.ts');
    return SqliteAuditStore.open({
      path: config.sqlitePath,
      exporters,
      ...(hooks.onLockWait ? { onLockWait: hooks.onLockWait } : {}),
    });
  }
  // A file (a mounted Secret) keeps the password out of the pod spec and the process list.
  const connectionString = config.postgresUrl ?? (await readFile(config.postgresUrlFile!, 'utf8')).trim();
  const { PostgresAuditStore } = await import('./store/postgres.ts');
  return PostgresAuditStore.open({ connectionString, exporters });
}
