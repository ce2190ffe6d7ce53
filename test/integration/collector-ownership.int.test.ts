import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  postHeartbeat,
  sidecarEvents,
  sidecarToken,
  startCollector,
  storedEvents,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { startPostgres, type PostgresServer } from '../harness/postgres.ts';

/**
 * Sidecar id ownership under a race (issue 16): servers using one new sidecar id at once, with the same
 * seq. Before the claim moved into the store, the collector's in-memory check let several through (6 of
 * 20 tries), and the loser's event was acknowledged as a "duplicate" of the winner's and never stored.
 * Now exactly one server owns the id; every other gets 403 identity_mismatch and nothing of it is stored.
 * SQLite behind one collector process, and PostgreSQL behind two collector processes (two replicas).
 */
const SERVERS = ['docs', 'billing', 'wiki', 'search', 'crm', 'hr'];
const ATTEMPTS = 20;

let admin: KubeConfig;
let namespace: string;
const tokens = new Map<string, string>();

beforeAll(async () => {
  admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-owner');
  for (const server of SERVERS) tokens.set(server, await sidecarToken(admin, namespace, server));
});

/** Every server ships seq 1 under the same new id to `urls` (round robin) at once; one may win. */
async function race(urls: readonly string[], attempt: number): Promise<void> {
  const sidecar = `raced-${attempt}`;
  const results = await Promise.all(
    SERVERS.map((name, i) =>
      postBatch(urls[i % urls.length]!, tokens.get(name), sidecarEvents(sidecar, 1, 1, { namespace, name })),
    ),
  );
  const winners = SERVERS.filter((_, i) => results[i]!.status === 200);
  expect(winners, `attempt ${attempt}: ${JSON.stringify(results)}`).toHaveLength(1);
  for (const result of results.filter((r) => r.status !== 200)) {
    expect(result).toMatchObject({ status: 403, body: { error: { code: 'identity_mismatch' } } });
  }
  const stored = (await storedEvents(urls[0]!, namespace)).filter((e) => e.sidecar === sidecar);
  expect(stored.map((e) => e.server.name)).toEqual(winners);
  // Every later write compares too: the losers' heartbeats and next seqs are refused.
  const loser = SERVERS.find((name) => name !== winners[0])!;
  const beat = await postHeartbeat(urls[0]!, tokens.get(loser)!, {
    sidecar,
    server: { namespace, name: loser },
    lastSeq: 2,
    ackedSeq: 0,
  });
  expect(beat.status).toBe(403);
}

describe('SQLite: one collector process', () => {
  let collector: CollectorUnderTest;
  beforeAll(async () => {
    collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it(`gives a new sidecar id to exactly one of ${SERVERS.length} servers, ${ATTEMPTS} times`, async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) await race([collector.url], attempt);
  });
});

describe('PostgreSQL: two collector processes on one database', () => {
  let postgres: PostgresServer;
  const replicas: CollectorUnderTest[] = [];
  beforeAll(async () => {
    postgres = await startPostgres();
    const url = await postgres.createDatabase('ownership');
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startCollector({
          mode: 'child',
          flags: { 'query-auth': 'none', store: 'postgres', 'postgres-url': url },
        }),
      );
    }
  }, 300_000);
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await postgres?.stop();
  });

  it(`gives a new sidecar id to exactly one of ${SERVERS.length} servers, ${ATTEMPTS} times`, async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await race(
        replicas.map((replica) => replica.url),
        attempt,
      );
    }
  });
});
