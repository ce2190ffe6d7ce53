import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import { testEvent } from '../../collector/store/test-events.ts';
import type { FetchPage } from './audit-client.ts';
import { failure, unavailable } from './audit-errors.ts';
import { followEvents } from './audit-follow.ts';
import type { EventPrinter } from './audit-format.ts';

const at = (seq: number, time: string) => testEvent('sc', seq, { time });

/**
 * order=ingest pages as the collector's store serves them: arrival order, the cursor the arrival index,
 * `next` on every page (the last row of a full page, else the newest arrival). `since` bounds event time.
 * `onCall(n)` runs before answering call n (1-based): to add events or stop.
 */
function fakeStore(onCall: (call: number, store: AuditEvent[]) => void) {
  const store: AuditEvent[] = [];
  const queries: AuditQueryInput[] = [];
  const fetchPage: FetchPage = async (query) => {
    queries.push(query);
    onCall(queries.length, store);
    expect(query.order).toBe('ingest');
    const cursor = query.after === undefined ? -1 : Number(query.after);
    const rows = store
      .map((event, arrival) => ({ event, arrival }))
      .filter((row) => row.arrival > cursor && (query.since === undefined || row.event.time >= query.since));
    const limit = Number(query.limit);
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? page.at(-1)!.arrival : store.length - 1;
    return { events: page.map((r) => r.event), next: String(next) };
  };
  return { fetchPage, queries };
}

function recorder(): EventPrinter & { seqs: number[] } {
  const seqs: number[] = [];
  return {
    seqs,
    add: (events) => void seqs.push(...events.map((e) => e.seq)),
    finish() {},
    get count() {
      return seqs.length;
    },
  };
}

const T = (second: number) => `2026-02-10T12:00:${String(second).padStart(2, '0')}.000Z`;

describe('followEvents', () => {
  it('prints what arrives in ingest order, each event once, until stopped', async () => {
    const stop = new AbortController();
    const { fetchPage, queries } = fakeStore((call, store) => {
      if (call === 1) store.push(at(1, T(0)), at(2, T(5)), at(3, T(1))); // T(0) is before --since
      if (call === 3) store.push(at(4, T(5)), at(5, T(6)));
      if (call === 5) store.push(at(6, T(7)));
      if (call === 7) stop.abort();
    });
    const printer = recorder();
    await followEvents({
      fetchPage,
      query: { tool: 'read_invoice', since: T(1) },
      printer,
      intervalMs: 1,
      signal: stop.signal,
      warn: () => {},
    });
    expect(printer.seqs).toEqual([2, 3, 4, 5, 6]);
    expect(queries[0]).toEqual({ tool: 'read_invoice', since: T(1), order: 'ingest', limit: 500 });
    // After the first poll the collector's cursor alone says where to go on.
    expect(queries[1]).toEqual({ tool: 'read_invoice', after: '2', order: 'ingest', limit: 500 });
  });

  it('is not blinded by an event dated far ahead, and shows a backlog stored late with older times', async () => {
    const stop = new AbortController();
    const { fetchPage } = fakeStore((call, store) => {
      if (call === 1) store.push(at(1, T(2)), testEvent('other', 1, { time: '2099-01-01T00:00:00.000Z' }));
      if (call === 3) store.push(at(2, T(3)), at(3, T(1)));
      if (call === 5) stop.abort();
    });
    const printer = recorder();
    await followEvents({
      fetchPage,
      query: { since: T(0) },
      printer,
      intervalMs: 1,
      signal: stop.signal,
      warn: () => {},
    });
    expect(printer.seqs).toEqual([1, 1, 2, 3]);
  });

  it('drains full pages through the cursor without waiting', async () => {
    const stop = new AbortController();
    const { fetchPage, queries } = fakeStore((call, store) => {
      if (call === 1) for (let seq = 1; seq <= 1200; seq++) store.push(at(seq, T(seq % 2 === 0 ? 2 : 3)));
      if (call === 3) stop.abort(); // the last page still prints; the wait after it ends at once
    });
    const printer = recorder();
    const started = Date.now();
    await followEvents({
      fetchPage,
      query: { since: T(0) },
      printer,
      intervalMs: 60_000,
      signal: stop.signal,
      warn: () => {},
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(printer.count).toBe(1200);
    expect(new Set(printer.seqs).size).toBe(1200);
    expect(queries.map((q) => q.after)).toEqual([undefined, '499', '999']);
    expect(queries.map((q) => q.since)).toEqual([T(0), undefined, undefined]);
  });

  it('keeps following through a collector outage, saying so once each way', async () => {
    const stop = new AbortController();
    const warnings: string[] = [];
    let calls = 0;
    const inner = fakeStore((_call, store) => {
      if (store.length === 0) store.push(at(1, T(1)));
    });
    const fetchPage: FetchPage = async (query, signal) => {
      calls++;
      if (calls === 2 || calls === 3)
        throw unavailable('cannot reach the collector at http://c/: ECONNREFUSED');
      if (calls === 5) stop.abort();
      return inner.fetchPage(query, signal);
    };
    const printer = recorder();
    await followEvents({
      fetchPage,
      query: { since: T(0) },
      printer,
      intervalMs: 1,
      signal: stop.signal,
      warn: (t) => warnings.push(t),
    });
    expect(printer.seqs).toEqual([1]);
    expect(warnings).toEqual([
      'cannot reach the collector at http://c/: ECONNREFUSED; retrying every 0.001s\n',
      'the collector answers again\n',
    ]);
  });

  it('stops on an error retrying cannot fix', async () => {
    const fetchPage: FetchPage = async () => {
      throw failure('not allowed');
    };
    await expect(
      followEvents({
        fetchPage,
        query: { since: T(0) },
        printer: recorder(),
        intervalMs: 1,
        signal: new AbortController().signal,
        warn: () => {},
      }),
    ).rejects.toThrow('not allowed');
  });

  it('ends at once when stopped while waiting', async () => {
    const stop = new AbortController();
    const { fetchPage } = fakeStore(() => {});
    const started = Date.now();
    setTimeout(() => stop.abort(), 20);
    await followEvents({
      fetchPage,
      query: { since: T(0) },
      printer: recorder(),
      intervalMs: 60_000,
      signal: stop.signal,
      warn: () => {},
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
