import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import type { FetchPage } from './audit-client.ts';
import { AuditError } from './audit-errors.ts';
import type { EventPrinter } from './audit-format.ts';

const FOLLOW_PAGE_SIZE = 500;
/** Ids of the latest events printed, to skip them when a poll reads their timestamp again. */
const REMEMBERED_IDS = 10_000;

export interface FollowOptions {
  readonly fetchPage: FetchPage;
  /** The filters (and namespace); `since` is where following starts. */
  readonly query: Omit<AuditQueryInput, 'limit' | 'after' | 'order' | 'since'> & { readonly since: string };
  readonly printer: EventPrinter;
  readonly intervalMs: number;
  /** Aborted on SIGINT/SIGTERM: the loop ends, an in-flight request with it. */
  readonly signal: AbortSignal;
  /** A transient failure (collector down, 5xx) and, later, the recovery: followers keep going through both. */
  readonly warn: (text: string) => void;
}

/**
 * Prints matching events as they arrive, oldest first, until the signal aborts. Full pages are drained at
 * once through the collector's cursor; the last page of a poll has none, so the next poll starts at the
 * newest event time printed and skips the ids already printed at it. Memory stays bounded: one page and
 * the last REMEMBERED_IDS ids. Reading by event time, an event that reaches the collector after newer ones
 * were printed (a sidecar shipping a backlog) and is older than them is not shown.
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const { fetchPage, printer, signal } = options;
  const printed = new RecentIds(REMEMBERED_IDS);
  let since = options.query.since;
  let after: string | undefined;
  let failing = false;
  while (!signal.aborted) {
    try {
      const page = await fetchPage(
        {
          ...options.query,
          since,
          order: 'asc',
          limit: FOLLOW_PAGE_SIZE,
          ...(after === undefined ? {} : { after }),
        },
        signal,
      );
      if (failing) options.warn('the collector answers again\n');
      failing = false;
      const fresh = page.events.filter((event) => printed.add(event.id));
      printer.add(fresh);
      const last: AuditEvent | undefined = page.events.at(-1);
      if (page.next !== undefined && page.events.length > 0) {
        after = page.next;
        continue; // more are waiting: no pause
      }
      after = undefined;
      if (last !== undefined) since = last.time;
    } catch (error) {
      if (signal.aborted) return;
      if (!(error instanceof AuditError) || !error.retryable) throw error;
      if (!failing) options.warn(`${error.message}; retrying every ${options.intervalMs / 1000}s\n`);
      failing = true;
    }
    try {
      await sleep(options.intervalMs, undefined, { signal });
    } catch {
      return; // aborted while waiting
    }
  }
}

/** An insertion-ordered set of at most `capacity` ids; the oldest go first. */
export class RecentIds {
  readonly #ids = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Adds the id; false when it was already there. */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.#ids.size;
  }
}
