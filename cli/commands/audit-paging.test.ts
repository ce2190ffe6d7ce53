import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import { testEvents } from '../../collector/store/test-events.ts';
import type { AuditPage, FetchPage } from './audit-client.ts';
import { fetchUpTo, PAGE_SIZE } from './audit-paging.ts';

/** A collector over `events` in the order given: cursor = index of the next event. */
function fakeCollector(events: AuditEvent[]): { fetchPage: FetchPage; asked: AuditQueryInput[] } {
  const asked: AuditQueryInput[] = [];
  const fetchPage: FetchPage = async (query) => {
    asked.push(query);
    const from = query.after === undefined ? 0 : Number(query.after);
    const limit = Number(query.limit);
    const page: AuditPage = { events: events.slice(from, from + limit) };
    return from + limit < events.length ? { ...page, next: String(from + limit) } : page;
  };
  return { fetchPage, asked };
}

async function collect(fetchPage: FetchPage, limit: number): Promise<{ seqs: number[]; pages: number }> {
  const seqs: number[] = [];
  let pages = 0;
  await fetchUpTo(fetchPage, { tool: 'read_invoice' }, limit, (events) => {
    pages++;
    seqs.push(...events.map((e) => e.seq));
  });
  return { seqs, pages };
}

describe('fetchUpTo', () => {
  it('follows next cursors and stops at the limit, asking only for what is left', async () => {
    const { fetchPage, asked } = fakeCollector(testEvents('sc', 1, 2500));
    const { seqs, pages } = await collect(fetchPage, 2100);
    expect(seqs).toEqual(Array.from({ length: 2100 }, (_, i) => i + 1));
    expect(pages).toBe(3);
    expect(asked).toEqual([
      { tool: 'read_invoice', limit: PAGE_SIZE },
      { tool: 'read_invoice', limit: PAGE_SIZE, after: '1000' },
      { tool: 'read_invoice', limit: 100, after: '2000' },
    ]);
  });

  it('stops at the last page, without a cursor', async () => {
    const { fetchPage, asked } = fakeCollector(testEvents('sc', 1, 1500));
    expect((await collect(fetchPage, 5000)).seqs).toHaveLength(1500);
    expect(asked).toHaveLength(2);
  });

  it('asks once for a small limit', async () => {
    const { fetchPage, asked } = fakeCollector(testEvents('sc', 1, 10));
    expect((await collect(fetchPage, 3)).seqs).toEqual([1, 2, 3]);
    expect(asked).toEqual([{ tool: 'read_invoice', limit: 3 }]);
  });

  it('never hands out more than the limit, even when a page is longer than asked', async () => {
    const fetchPage: FetchPage = async () => ({ events: testEvents('sc', 1, 50), next: 'more' });
    expect((await collect(fetchPage, 20)).seqs).toHaveLength(20);
  });

  it('does not loop on an empty page that still names a cursor', async () => {
    let calls = 0;
    const fetchPage: FetchPage = async () => {
      calls++;
      return { events: [], next: 'again' };
    };
    expect(await collect(fetchPage, 100)).toEqual({ seqs: [], pages: 0 });
    expect(calls).toBe(1);
  });
});
