import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollectorMetrics } from './metrics.ts';
import { startRetention } from './retention.ts';
import { SqliteAuditStore } from './store/sqlite.ts';
import { testEvents } from './store/test-events.ts';

describe('retention', () => {
  let store: SqliteAuditStore | undefined;
  afterEach(() => store?.close());

  it('deletes events older than the period at start, and counts them', async () => {
    store = await SqliteAuditStore.open({
      path: join(mkdtempSync(join(tmpdir(), 'retention-')), 'audit.db'),
    });
    const now = Date.UTC(2026, 5, 1);
    const old = testEvents('sc-1', 1, 3); // January 2026
    const fresh = testEvents('sc-1', 4, 5).map((e, i) => ({
      ...e,
      time: new Date(now - 10_000 + i * 1000).toISOString(),
    }));
    await store.insert([...old, ...fresh]);
    const metrics = createCollectorMetrics({ defaultMetrics: false });
    const retention = startRetention({
      store,
      retentionMs: 30 * 86_400_000,
      metrics,
      log: pino({ level: 'silent' }),
      clock: () => now,
    });
    await retention.stop(); // waits for the run at start
    const left = await store.query({ order: 'asc', limit: 100 });
    expect(left.events.map((e) => e.seq)).toEqual([4, 5]);
    expect((await metrics.retentionDeleted.get()).values[0]?.value).toBe(3);
  });
});
