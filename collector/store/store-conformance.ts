import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { auditEvent, auditEventKey, type AuditEvent } from '../../api/audit/v1/event.ts';
import { heartbeat as heartbeatSchema, type Heartbeat } from '../../api/audit/v1/ingest.ts';
import { auditQuery, type AuditQueryInput } from '../../api/audit/v1/query.ts';
import { AuditStoreError } from './errors.ts';
import type { AuditStoreOptions } from './options.ts';
import { MAX_PAGE_BYTES } from './page-bytes.ts';
import type { AuditStore } from './store.ts';
import { testEvent, testEvents, uuidFor } from './test-events.ts';

/** One empty database that stores can be opened on, any number at once (replicas) and again (restarts). */
export interface TestDatabase {
  open(options?: AuditStoreOptions): Promise<AuditStore>;
  /** Makes the database itself refuse to store this event (a trigger): a failure in the middle of a batch. */
  failInserts(sidecar: string, seq: number): Promise<void>;
}

export interface ConformanceTarget {
  /** A new, empty database. */
  database(): Promise<TestDatabase>;
}

const EXPORTERS = ['otlp', 'stdout'];
const T0 = Date.UTC(2026, 0, 1);

/**
 * The behaviour every AuditStore must have, as one suite each implementation runs against a real database
 * (collector/store/sqlite.test.ts, test/integration/collector-store-postgres.int.test.ts).
 */
export function auditStoreConformance(name: string, target: ConformanceTarget): void {
  describe(`AuditStore conformance: ${name}`, () => {
    const opened: AuditStore[] = [];
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    /** A clock the test moves; stores read it for ingest times. */
    const clock = { now: new Date(T0 + 3_600_000) };
    afterEach(() => {
      clock.now = new Date(T0 + 3_600_000);
    });

    async function openOn(database: TestDatabase): Promise<AuditStore> {
      const store = await database.open({ exporters: EXPORTERS, now: () => clock.now });
      opened.push(store);
      return store;
    }
    async function fresh(): Promise<{ store: AuditStore; database: TestDatabase }> {
      const database = await target.database();
      return { store: await openOn(database), database };
    }
    async function all(store: AuditStore, query: AuditQueryInput = {}): Promise<AuditEvent[]> {
      const events: AuditEvent[] = [];
      let after: string | undefined;
      do {
        const page = await store.query(
          auditQuery.parse({ limit: 1000, ...query, ...(after ? { after } : {}) }),
        );
        events.push(...page.events);
        after = page.next;
      } while (after !== undefined);
      return events;
    }
    const keys = (events: readonly AuditEvent[]): string[] => events.map((e) => `${e.sidecar}/${e.seq}`);
    const sidecar = async (store: AuditStore, id: string) =>
      (await store.sidecars()).find((s) => s.sidecar === id);
    const beat = (overrides: Partial<Heartbeat> & { sidecar: string }): Heartbeat =>
      heartbeatSchema.parse({
        server: { namespace: 'team-a', name: 'docs' },
        time: new Date(T0).toISOString(),
        lastSeq: 0,
        ackedSeq: 0,
        walBytes: 0,
        ...overrides,
      });
    const later = (): Date => new Date(clock.now.getTime() + 1);

    describe('insert', () => {
      it('returns events exactly as received, unknown fields and U+0000 included', async () => {
        const { store } = await fresh();
        const event = {
          ...testEvent('sc-a', 1, {
            user: 'al\0ice',
            reason: 'nul \0 inside',
            arguments: { q: 'x\0y', n: 1.5 },
          }),
          futureField: { nested: [1, 'two', null] },
        } as AuditEvent;
        expect(auditEvent.safeParse(event).success).toBe(true);
        expect(await store.insert([event])).toEqual({ accepted: 1, duplicates: 0 });
        expect(await all(store)).toEqual([event]);
        expect(keys(await all(store, { user: 'al\0ice' }))).toEqual(['sc-a/1']);
      });

      it('stores an event once per (sidecar, seq), within a batch and across batches', async () => {
        const { store } = await fresh();
        const batch = testEvents('sc-a', 1, 5);
        expect(await store.insert([...batch, batch[0]!, batch[3]!])).toEqual({ accepted: 5, duplicates: 2 });
        expect(await store.insert(batch)).toEqual({ accepted: 0, duplicates: 5 });
        expect(await store.insert(testEvents('sc-a', 4, 7))).toEqual({ accepted: 2, duplicates: 2 });
        // The same seq of another sidecar is another event.
        expect(await store.insert(testEvents('sc-b', 1, 2))).toEqual({ accepted: 2, duplicates: 0 });
        expect(keys(await all(store, { order: 'asc' }))).toEqual([
          'sc-a/1', 'sc-b/1', 'sc-a/2', 'sc-b/2', 'sc-a/3', 'sc-a/4', 'sc-a/5', 'sc-a/6', 'sc-a/7',
        ]); // prettier-ignore
        expect(await store.exportBacklog('otlp')).toBe(9);
      });

      it('keeps the first version of a retried (sidecar, seq), even when the retry differs', async () => {
        const { store } = await fresh();
        await store.insert([testEvent('sc-a', 1, { reason: 'first' })]);
        expect(
          await store.insert([testEvent('sc-a', 1, { reason: 'second', id: uuidFor('other') })]),
        ).toEqual({
          accepted: 0,
          duplicates: 1,
        });
        expect((await all(store))[0]?.reason).toBe('first');
      });

      it('accepts an empty batch', async () => {
        const { store } = await fresh();
        expect(await store.insert([])).toEqual({ accepted: 0, duplicates: 0 });
      });

      it('stores nothing of a batch that fails part way, and lets concurrent batches commit', async () => {
        const { store, database } = await fresh();
        await store.insert(testEvents('sc-a', 1, 2));
        // The database refuses sc-b seq 3 (a trigger), after the batch's sc-a events were written.
        await database.failInserts('sc-b', 3);
        const failing = [...testEvents('sc-a', 3, 4), ...testEvents('sc-b', 1, 5)];
        const [failed, other] = await Promise.allSettled([
          store.insert(failing),
          store.insert(testEvents('sc-c', 1, 3)),
        ]);
        expect(failed.status).toBe('rejected');
        expect((failed as PromiseRejectedResult).reason).toBeInstanceOf(AuditStoreError);
        expect(other).toEqual({ status: 'fulfilled', value: { accepted: 3, duplicates: 0 } });
        expect(keys(await all(store, { order: 'asc' }))).toEqual([
          'sc-a/1', 'sc-c/1', 'sc-a/2', 'sc-c/2', 'sc-c/3',
        ]); // prettier-ignore
        expect(await sidecar(store, 'sc-a')).toMatchObject({ highestSeq: 2, contiguousThrough: 2 });
        expect(await sidecar(store, 'sc-b')).toBeUndefined();
        expect(await store.exportBacklog('otlp')).toBe(5);
        // Without sc-b the same events go in whole.
        expect(await store.insert(testEvents('sc-a', 3, 4))).toEqual({ accepted: 2, duplicates: 0 });
      });

      it('keeps one event per (sidecar, seq), whatever its id: ids are not an identity', async () => {
        const { store } = await fresh();
        const id = testEvent('sc-a', 1).id;
        // In one batch and across batches, a repeated id under a new (sidecar, seq) is another event.
        expect(await store.insert([testEvent('sc-a', 1), testEvent('sc-b', 1, { id })])).toEqual({
          accepted: 2,
          duplicates: 0,
        });
        expect(await store.insert([testEvent('sc-a', 2, { id })])).toEqual({ accepted: 1, duplicates: 0 });
        // The same (sidecar, seq) under another id is the stored event again: a duplicate.
        const again = testEvent('sc-a', 2, { id: testEvent('sc-z', 9).id });
        expect(await store.insert([again])).toEqual({ accepted: 0, duplicates: 1 });
        expect(keys(await all(store, { order: 'asc' })).sort()).toEqual(['sc-a/1', 'sc-a/2', 'sc-b/1']);
        const exported = await store.pendingExport('otlp', 10);
        expect(exported.map((entry) => auditEventKey(entry.event)).sort()).toEqual([
          'sc-a/1',
          'sc-a/2',
          'sc-b/1',
        ]);
      });

      it('refuses a batch with an event it cannot keep, storing none of it', async () => {
        const { store } = await fresh();
        for (const bad of [
          testEvent('sc-a', 3, { time: '2026-02-30T00:00:00Z' }),
          testEvent('sc-a', 3, { time: 'yesterday' }),
          testEvent('sc-a', 0),
          { ...testEvent('sc-a', 3), decision: undefined } as unknown as AuditEvent,
        ]) {
          const error = await store.insert([testEvent('sc-a', 1), bad]).catch((e: unknown) => e);
          expect((error as AuditStoreError).code).toBe('invalid_event');
        }
        expect(await all(store)).toEqual([]);
        expect(await store.sidecars()).toEqual([]);
      });
    });

    describe('sequence tracking', () => {
      it('tracks contiguousThrough and highestSeq across holes filled later and batches out of order', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-a', 7, 9));
        expect(await sidecar(store, 'sc-a')).toMatchObject({ contiguousThrough: 0, highestSeq: 9 });
        await store.insert(testEvents('sc-a', 1, 3));
        expect(await sidecar(store, 'sc-a')).toMatchObject({ contiguousThrough: 3, highestSeq: 9 });
        await store.insert([testEvent('sc-a', 5)]);
        expect(await store.gaps(later())).toEqual([
          { sidecar: 'sc-a', fromSeq: 4, toSeq: 4, kind: 'missing' },
          { sidecar: 'sc-a', fromSeq: 6, toSeq: 6, kind: 'missing' },
        ]);
        await store.insert([testEvent('sc-a', 6), testEvent('sc-a', 4)]);
        expect(await sidecar(store, 'sc-a')).toMatchObject({ contiguousThrough: 9, highestSeq: 9 });
        expect(await store.gaps(later())).toEqual([]);
      });

      it('reports a hole only once the event above it is older than olderThan', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-a', 1, 2));
        const firstBatch = clock.now;
        clock.now = new Date(firstBatch.getTime() + 60_000);
        await store.insert(testEvents('sc-a', 10, 11));
        clock.now = new Date(firstBatch.getTime() + 120_000);
        await store.insert(testEvents('sc-a', 5, 6));
        // Hole 3-4 is below the batch stored at +120 s, hole 7-9 below the one stored at +60 s.
        expect(await store.gaps(new Date(firstBatch.getTime() + 60_000))).toEqual([]);
        expect(await store.gaps(new Date(firstBatch.getTime() + 60_001))).toEqual([
          { sidecar: 'sc-a', fromSeq: 7, toSeq: 9, kind: 'missing' },
        ]);
        expect(await store.gaps(new Date(firstBatch.getTime() + 120_001))).toEqual([
          { sidecar: 'sc-a', fromSeq: 3, toSeq: 4, kind: 'missing' },
          { sidecar: 'sc-a', fromSeq: 7, toSeq: 9, kind: 'missing' },
        ]);
      });

      it('reports missing seqs from 1 when the first events never arrived', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-b', 4, 5));
        await store.insert(testEvents('sc-a', 1, 1));
        expect(await store.gaps(later())).toEqual([
          { sidecar: 'sc-b', fromSeq: 1, toSeq: 3, kind: 'missing' },
        ]);
      });
    });

    describe('heartbeat', () => {
      it('records the sidecar and its lost ranges, idempotently', async () => {
        const { store } = await fresh();
        const lost = [{ fromSeq: 3, toSeq: 4, reason: 'corrupt WAL record' }];
        const first = beat({
          sidecar: 'sc-a',
          pod: 'docs-0',
          lastSeq: 6,
          ackedSeq: 2,
          lost,
          policyHash: 'h1',
        });
        await store.heartbeat(first);
        await store.heartbeat(first);
        await store.insert([...testEvents('sc-a', 1, 2), ...testEvents('sc-a', 5, 6)]);
        expect(await store.gaps(later())).toEqual([
          { sidecar: 'sc-a', fromSeq: 3, toSeq: 4, kind: 'lost', reason: 'corrupt WAL record' },
          { sidecar: 'sc-a', fromSeq: 3, toSeq: 4, kind: 'missing' },
        ]);
        const tools = [{ name: 'search', digest: 'sha256:1', state: 'pinned' }];
        await store.heartbeat(
          beat({ sidecar: 'sc-a', time: new Date(T0 + 10_000).toISOString(), lastSeq: 9, tools }),
        );
        expect(await store.sidecars()).toEqual([
          {
            sidecar: 'sc-a',
            namespace: 'team-a',
            server: 'docs',
            firstSeen: clock.now.toISOString().replace('Z', '000Z'),
            lastHeartbeat: new Date(T0 + 10_000).toISOString().replace('Z', '000Z'),
            highestSeq: 6,
            contiguousThrough: 2,
            reportedSeq: 9,
            tools,
          },
        ]);
        expect((await store.gaps(later())).filter((gap) => gap.kind === 'lost')).toHaveLength(1);
      });

      it('lets an older heartbeat arriving late change nothing but raise reportedSeq never lower it', async () => {
        const { store } = await fresh();
        await store.heartbeat(
          beat({ sidecar: 'sc-a', pod: 'new', time: new Date(T0 + 5_000).toISOString(), lastSeq: 8 }),
        );
        await store.heartbeat(
          beat({ sidecar: 'sc-a', pod: 'old', time: new Date(T0).toISOString(), lastSeq: 3 }),
        );
        expect(await sidecar(store, 'sc-a')).toMatchObject({ pod: 'new', reportedSeq: 8 });
      });

      it('refuses a lost range that ends before it starts', async () => {
        const { store } = await fresh();
        const bad = { ...beat({ sidecar: 'sc-a' }), lost: [{ fromSeq: 5, toSeq: 4, reason: 'x' }] };
        await expect(store.heartbeat(bad)).rejects.toMatchObject({ code: 'invalid_event' });
      });
    });

    describe('query', () => {
      /** 24 events over 3 sidecars, fields varied by seq; seqs 9-16 share one timestamp. */
      function corpus(): AuditEvent[] {
        const users = ['alice', 'bob', 'carol'];
        const tools = ['search', 'fetch'];
        const events: AuditEvent[] = [];
        for (const sc of ['sc-a', 'sc-b', 'sc-c']) {
          for (let seq = 1; seq <= 8; seq++) {
            const n = seq + (sc === 'sc-b' ? 8 : sc === 'sc-c' ? 16 : 0);
            const server = {
              namespace: n % 5 === 0 ? 'team-b' : 'team-a',
              name: n % 3 === 0 ? 'wiki' : 'docs',
            };
            events.push(
              testEvent(sc, seq, {
                // A sidecar id belongs to one server: one id per (sidecar, server) of the corpus.
                sidecar: `${sc}.${server.namespace}.${server.name}`,
                time: new Date(T0 + (n >= 9 && n <= 16 ? 9 : n) * 1000).toISOString(),
                user: users[n % 3],
                agent: n % 2 === 0 ? 'copilot' : 'cursor',
                tenant: n % 4 === 0 ? 'globex' : 'acme',
                tool: tools[n % 2],
                server,
                decision: n % 3 === 0 ? 'denied' : 'allowed',
                kind: n === 24 ? 'policy' : 'call',
              }),
            );
          }
        }
        return events;
      }
      /** The expected order: time, then arrival (ingest) order for equal times. */
      const ordered = (events: AuditEvent[], order: 'asc' | 'desc'): string[] => {
        const asc = events
          .map((e, i) => ({ e, i }))
          .sort((a, b) => Date.parse(a.e.time) - Date.parse(b.e.time) || a.i - b.i);
        return keys((order === 'asc' ? asc : asc.reverse()).map(({ e }) => e));
      };
      async function loaded(): Promise<{ store: AuditStore; events: AuditEvent[] }> {
        const { store } = await fresh();
        const events = corpus();
        // Inserted sidecar by sidecar, so arrival order differs from time order for the shared timestamp.
        const arrival: AuditEvent[] = [];
        for (const sc of ['sc-c', 'sc-a', 'sc-b']) {
          const ids = new Set(events.filter((e) => e.sidecar.startsWith(`${sc}.`)).map((e) => e.sidecar));
          for (const id of ids) {
            const batch = events.filter((e) => e.sidecar === id);
            await store.insert(batch);
            arrival.push(...batch);
          }
        }
        return { store, events: arrival };
      }

      it('filters by each field, alone and combined', async () => {
        const { store, events } = await loaded();
        const cases: [AuditQueryInput, (e: AuditEvent) => boolean][] = [
          [{ user: 'bob' }, (e) => e.user === 'bob'],
          [{ agent: 'cursor' }, (e) => e.agent === 'cursor'],
          [{ tenant: 'globex' }, (e) => e.tenant === 'globex'],
          [{ tool: 'fetch' }, (e) => e.tool === 'fetch'],
          [{ server: 'wiki' }, (e) => e.server.name === 'wiki'],
          [{ namespace: 'team-b' }, (e) => e.server.namespace === 'team-b'],
          [{ decision: 'denied' }, (e) => e.decision === 'denied'],
          [{ kind: 'policy' }, (e) => e.kind === 'policy'],
          [{ user: 'nobody' }, () => false],
          [
            { namespace: 'team-a', server: 'docs', user: 'alice', tool: 'search' },
            (e) =>
              e.server.namespace === 'team-a' &&
              e.server.name === 'docs' &&
              e.user === 'alice' &&
              e.tool === 'search',
          ],
        ];
        for (const [query, match] of cases) {
          for (const order of ['asc', 'desc'] as const) {
            expect(keys(await all(store, { ...query, order })), JSON.stringify(query)).toEqual(
              ordered(events.filter(match), order),
            );
          }
        }
      });

      it('bounds time with since inclusive and until exclusive, in any offset', async () => {
        const { store, events } = await loaded();
        const since = new Date(T0 + 9_000);
        const until = new Date(T0 + 20_000);
        const inRange = (e: AuditEvent) =>
          Date.parse(e.time) >= since.getTime() && Date.parse(e.time) < until.getTime();
        expect(
          keys(await all(store, { since: since.toISOString(), until: until.toISOString(), order: 'asc' })),
        ).toEqual(ordered(events.filter(inRange), 'asc'));
        // The same instants written with a +02:00 offset.
        const shifted = (d: Date) => new Date(d.getTime() + 7_200_000).toISOString().replace('Z', '+02:00');
        expect(
          keys(await all(store, { since: shifted(since), until: shifted(until), order: 'asc' })),
        ).toEqual(ordered(events.filter(inRange), 'asc'));
      });

      it('orders by event time, not by the offset the time was written in', async () => {
        const { store } = await fresh();
        // 10:00+02:00 is 08:00Z: earlier than 09:00Z though its text sorts later.
        await store.insert([
          testEvent('sc-a', 1, { time: '2026-01-01T09:00:00Z' }),
          testEvent('sc-a', 2, { time: '2026-01-01T10:00:00.5+02:00' }),
        ]);
        expect(keys(await all(store, { order: 'asc' }))).toEqual(['sc-a/2', 'sc-a/1']);
        expect(
          keys(await all(store, { since: '2026-01-01T08:00:00.5Z', until: '2026-01-01T08:00:00.500001Z' })),
        ).toEqual(['sc-a/2']);
      });

      it('pages without repeating or skipping, through equal timestamps, in both orders', async () => {
        const { store, events } = await loaded();
        for (const order of ['asc', 'desc'] as const) {
          for (const limit of [1, 3, 7, 24, 25]) {
            const seen: string[] = [];
            let after: string | undefined;
            let pages = 0;
            do {
              const page = await store.query(auditQuery.parse({ order, limit, ...(after ? { after } : {}) }));
              expect(page.events.length).toBeLessThanOrEqual(limit);
              seen.push(...keys(page.events));
              after = page.next;
              pages++;
            } while (after !== undefined);
            expect(seen, `${order} limit ${limit}`).toEqual(ordered(events, order));
            expect(pages).toBe(Math.max(1, Math.ceil(24 / limit)));
          }
        }
        const filtered: string[] = [];
        let after: string | undefined;
        do {
          const page = await store.query(
            auditQuery.parse({ user: 'alice', limit: 2, ...(after ? { after } : {}) }),
          );
          filtered.push(...keys(page.events));
          after = page.next;
        } while (after !== undefined);
        expect(filtered).toEqual(
          ordered(
            events.filter((e) => e.user === 'alice'),
            'desc',
          ),
        );
      });

      it('follows in ingest order, whatever the event times, with a cursor on every page', async () => {
        const { store, events } = await loaded();
        const follow = (after?: string, limit = 10) =>
          store.query(auditQuery.parse({ order: 'ingest', limit, ...(after ? { after } : {}) }));
        const seen: string[] = [];
        let page = await follow();
        while (page.events.length === 10) {
          seen.push(...keys(page.events));
          page = await follow(page.next);
        }
        seen.push(...keys(page.events));
        expect(seen).toEqual(keys(events));
        // Caught up: the cursor still moves on, past an event dated far ahead and to the later ones.
        const tail = page.next;
        expect(tail).toBeDefined();
        await store.insert([testEvent('sc-far', 1, { time: '2099-01-01T00:00:00Z' })]);
        await store.insert([testEvent('sc-late', 1, { time: new Date(T0).toISOString() })]);
        const next = await follow(tail);
        expect(keys(next.events)).toEqual(['sc-far/1', 'sc-late/1']);
        // A filtered follow moves past what it did not match, and sees nothing twice.
        const filtered = await store.query(
          auditQuery.parse({ order: 'ingest', user: 'nobody', after: tail }),
        );
        expect(filtered.events).toEqual([]);
        expect(keys((await follow(filtered.next)).events)).toEqual([]);
      });

      it('ends a page at the byte cap as well as at the row limit, and pages on through the rest', async () => {
        const { store } = await fresh();
        const padding = 'x'.repeat(Math.ceil(MAX_PAGE_BYTES / 4));
        await store.insert(testEvents('sc-big', 1, 10).map((e) => ({ ...e, padding }) as AuditEvent));
        for (const order of ['desc', 'asc', 'ingest'] as const) {
          const first = await store.query(auditQuery.parse({ order, limit: 100 }));
          expect(first.events.length, order).toBeLessThan(10);
          expect(first.events.length, order).toBeGreaterThan(0);
          expect(first.next, order).toBeDefined();
          const seen = [...first.events];
          let after = first.next;
          while (after !== undefined && seen.length < 10) {
            const page = await store.query(auditQuery.parse({ order, limit: 100, after }));
            seen.push(...page.events);
            after = page.next;
          }
          expect(new Set(keys(seen)).size, order).toBe(10);
        }
      });

      it('keeps a newest-first walk stable while newer events arrive', async () => {
        const { store, events } = await loaded();
        const seen: string[] = [];
        let page = await store.query(auditQuery.parse({ limit: 5 }));
        let n = 0;
        for (;;) {
          seen.push(...keys(page.events));
          if (page.next === undefined) break;
          n++;
          await store.insert([testEvent('sc-d', n, { time: new Date(T0 + 100_000 + n).toISOString() })]);
          page = await store.query(auditQuery.parse({ limit: 5, after: page.next }));
        }
        expect(seen).toEqual(ordered(events, 'desc'));
      });

      it('follows ascending: a cursor from the last page picks up events stored later', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-a', 1, 3));
        const first = await store.query(auditQuery.parse({ order: 'asc', limit: 3 }));
        expect(first.next).toBeUndefined();
        const cursor = (await store.query(auditQuery.parse({ order: 'asc', limit: 2 }))).next!;
        await store.insert(testEvents('sc-a', 4, 5));
        expect(keys((await store.query(auditQuery.parse({ order: 'asc', after: cursor }))).events)).toEqual([
          'sc-a/3',
          'sc-a/4',
          'sc-a/5',
        ]);
      });

      it('refuses a cursor it did not issue', async () => {
        const { store } = await fresh();
        for (const after of ['garbage', Buffer.from('2026/1').toString('base64url')]) {
          await expect(store.query(auditQuery.parse({ after }))).rejects.toMatchObject({
            code: 'invalid_cursor',
          });
        }
      });
    });

    describe('retention', () => {
      it('deletes events before the instant with their export entries, keeping sequence tracking', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-a', 1, 10)); // times T0+1 s ... T0+10 s
        await store.ackExport(
          'stdout',
          (await store.pendingExport('stdout', 100)).map((p) => p.entry),
        );
        expect(await store.deleteBefore(new Date(T0 + 4_000))).toBe(3);
        expect(await store.deleteBefore(new Date(T0 + 4_000))).toBe(0);
        expect(keys(await all(store, { order: 'asc' }))).toEqual(keys(testEvents('sc-a', 4, 10)));
        expect(await store.exportBacklog('otlp')).toBe(7);
        expect((await store.pendingExport('otlp', 1))[0]?.event.seq).toBe(4);
        expect(await sidecar(store, 'sc-a')).toMatchObject({ contiguousThrough: 10, highestSeq: 10 });
        expect(await store.gaps(later())).toEqual([]);
        // A late retry of a deleted event is a duplicate: it was stored once.
        expect(await store.insert(testEvents('sc-a', 1, 11))).toEqual({ accepted: 1, duplicates: 10 });
        expect((await all(store)).length).toBe(8);
      });

      it('deletes more events than one chunk', async () => {
        const { store } = await fresh();
        for (let from = 1; from <= 12_000; from += 500)
          await store.insert(testEvents('sc-a', from, from + 499));
        expect(await store.deleteBefore(new Date(T0 + 11_001_000))).toBe(11_000);
        expect(await store.exportBacklog('otlp')).toBe(1_000);
        expect(await sidecar(store, 'sc-a')).toMatchObject({ contiguousThrough: 12_000 });
      });
    });

    describe('export queue', () => {
      it('queues each new event once per exporter until acknowledged, oldest first', async () => {
        const { store } = await fresh();
        await store.insert(testEvents('sc-a', 1, 5));
        await store.insert(testEvents('sc-a', 3, 7)); // 3-5 are duplicates: not queued again
        expect(await store.exportBacklog('otlp')).toBe(7);
        const pending = await store.pendingExport('otlp', 3);
        expect(pending.map((p) => p.event)).toEqual(testEvents('sc-a', 1, 3));
        // Not acknowledged: offered again.
        expect(await store.pendingExport('otlp', 3)).toEqual(pending);
        await store.ackExport(
          'otlp',
          pending.map((p) => p.entry),
        );
        await store.ackExport(
          'otlp',
          pending.map((p) => p.entry),
        ); // acking twice is harmless
        expect((await store.pendingExport('otlp', 100)).map((p) => p.event.seq)).toEqual([4, 5, 6, 7]);
        expect(await store.exportBacklog('otlp')).toBe(4);
        expect(await store.exportBacklog('stdout')).toBe(7);
      });

      it('keeps the queue across close and reopen', async () => {
        const { store, database } = await fresh();
        await store.insert(testEvents('sc-a', 1, 4));
        await store.ackExport('otlp', [(await store.pendingExport('otlp', 1))[0]!.entry]);
        await store.close();
        const reopened = await openOn(database);
        expect((await reopened.pendingExport('otlp', 10)).map((p) => p.event.seq)).toEqual([2, 3, 4]);
        expect(await reopened.exportBacklog('stdout')).toBe(4);
      });

      it('refuses an exporter that is not configured', async () => {
        const { store } = await fresh();
        await expect(store.pendingExport('splunk', 1)).rejects.toMatchObject({ code: 'unknown_exporter' });
        await expect(store.ackExport('splunk', [1])).rejects.toMatchObject({ code: 'unknown_exporter' });
        await expect(store.exportBacklog('splunk')).rejects.toMatchObject({ code: 'unknown_exporter' });
      });
    });

    it('keeps events, sidecars and gaps across close and reopen', async () => {
      const { store, database } = await fresh();
      await store.insert([...testEvents('sc-a', 1, 3), ...testEvents('sc-a', 6, 6)]);
      await store.heartbeat(
        beat({ sidecar: 'sc-a', lastSeq: 6, lost: [{ fromSeq: 4, toSeq: 4, reason: 'r' }] }),
      );
      const before = {
        events: await all(store),
        sidecars: await store.sidecars(),
        gaps: await store.gaps(later()),
      };
      await store.close();
      const reopened = await openOn(database);
      expect({
        events: await all(reopened),
        sidecars: await reopened.sidecars(),
        gaps: await reopened.gaps(later()),
      }).toEqual(before);
      await reopened.insert(testEvents('sc-a', 4, 5));
      expect(await sidecar(reopened, 'sc-a')).toMatchObject({ contiguousThrough: 6 });
    });

    describe('sidecar id ownership', () => {
      const of = (name: string) => ({ server: { namespace: 'team-a', name } });

      it('refuses a batch or heartbeat under an id another server owns, storing none of it', async () => {
        const { store } = await fresh();
        await store.insert([testEvent('sc-a', 1, of('docs'))]);
        const foreign = [testEvent('sc-a', 2, of('billing')), testEvent('sc-a', 1, of('billing'))];
        await expect(store.insert(foreign)).rejects.toMatchObject({ code: 'foreign_sidecar' });
        // A batch mixing the owner's events with a foreign one is refused whole.
        const mixed = [testEvent('sc-a', 3, of('docs')), testEvent('sc-a', 4, of('billing'))];
        await expect(store.insert(mixed)).rejects.toMatchObject({ code: 'foreign_sidecar' });
        await expect(
          store.heartbeat(beat({ sidecar: 'sc-a', server: { namespace: 'team-a', name: 'billing' } })),
        ).rejects.toMatchObject({ code: 'foreign_sidecar' });
        expect(keys(await all(store))).toEqual(['sc-a/1']);
        expect(await sidecar(store, 'sc-a')).toMatchObject({ server: 'docs', highestSeq: 1 });
      });

      it('gives a new id to exactly one of many servers using it at once, on several replicas', async () => {
        const { store: one, database } = await fresh();
        const replicas = [one, await openOn(database), await openOn(database)];
        for (let attempt = 0; attempt < 10; attempt++) {
          const id = `sc-race-${attempt}`;
          // Eight servers, the same new id and the same seq: the case where a loser was acknowledged
          // as a "duplicate" of the winner's event.
          const results = await Promise.allSettled(
            Array.from({ length: 8 }, (_, i) =>
              replicas[i % replicas.length]!.insert([testEvent(id, 1, of(`server-${i}`))]),
            ),
          );
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          expect(won).toHaveLength(1);
          for (const result of results) {
            if (result.status === 'rejected')
              expect(result.reason).toMatchObject({ code: 'foreign_sidecar' });
          }
          const stored = (await all(one)).filter((event) => event.sidecar === id);
          expect(stored.map((event) => event.server.name)).toEqual([`server-${won[0]}`]);
        }
      });
    });

    it('stores each event once when two replicas insert overlapping batches at once', async () => {
      const { store: one, database } = await fresh();
      const two = await openOn(database);
      const sidecars = ['sc-a', 'sc-b', 'sc-c'];
      const batches: AuditEvent[][] = [];
      for (const sc of sidecars) {
        // Overlapping windows of 40 with step 25, out of order, each sent to both replicas.
        for (let from = 1; from <= 401; from += 25) batches.push(testEvents(sc, from, from + 39)); // 1..440
      }
      batches.sort((a, b) => ((a[0]!.seq * 7919 + a.length) % 13) - ((b[0]!.seq * 7919 + b.length) % 13));
      const results = await Promise.all(batches.flatMap((batch) => [one.insert(batch), two.insert(batch)]));
      const accepted = results.reduce((sum, r) => sum + r.accepted, 0);
      expect(accepted).toBe(3 * 440);
      const stored = keys(await all(one));
      expect(stored.length).toBe(3 * 440);
      expect(new Set(stored).size).toBe(3 * 440);
      for (const sc of sidecars) {
        expect(await sidecar(two, sc)).toMatchObject({ contiguousThrough: 440, highestSeq: 440 });
      }
      expect(await one.gaps(later())).toEqual([]);
      expect(await two.exportBacklog('otlp')).toBe(3 * 440);
    });

    it('converges to the union of any interleaving of batches with duplicates and holes (property)', async () => {
      const { database } = await fresh();
      const replicas = [await openOn(database), await openOn(database)];
      let run = 0;
      const batch = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(batch, fc.nat(1), fc.boolean()), { minLength: 1, maxLength: 12 }),
          fc.scheduler(),
          async (plan, scheduler) => {
            const sc = `prop-${run++}`;
            const sent = new Set<number>();
            const calls = plan.map(([seqs, replica, repeatFirst]) => {
              seqs.forEach((seq) => sent.add(seq));
              const events = seqs.map((seq) => testEvent(sc, seq));
              if (repeatFirst) events.push(events[0]!);
              return scheduler
                .schedule(Promise.resolve(), `batch ${seqs}`)
                .then(() => replicas[replica]!.insert(events));
            });
            await scheduler.waitFor(Promise.all(calls));
            const results = await Promise.all(calls);
            expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(sent.size);
            const stored = (await all(replicas[0]!, { order: 'asc' }))
              .filter((e) => e.sidecar === sc)
              .map((e) => e.seq);
            expect(stored.sort((a, b) => a - b)).toEqual([...sent].sort((a, b) => a - b));
            let contiguous = 0;
            while (sent.has(contiguous + 1)) contiguous++;
            expect(await sidecar(replicas[1]!, sc)).toMatchObject({
              contiguousThrough: contiguous,
              highestSeq: Math.max(...sent),
            });
            const missing = (await replicas[0]!.gaps(later())).filter((g) => g.sidecar === sc);
            const holes = missing.flatMap((g) =>
              Array.from({ length: g.toSeq - g.fromSeq + 1 }, (_, i) => g.fromSeq + i),
            );
            const expected = Array.from({ length: Math.max(...sent) }, (_, i) => i + 1).filter(
              (s) => !sent.has(s),
            );
            expect(holes).toEqual(expected);
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
