import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditQueryInput } from '../../api/audit/v1/query.ts';
import type { FetchPage } from './audit-client.ts';
import { AuditError } from './audit-errors.ts';
import type { EventPrinter } from './audit-format.ts';

const FOLLOW_PAGE_SIZE = 500;

export interface FollowOptions {
  readonly fetchPage: FetchPage;
  /** The filters (and namespace); `since` bounds the event time of what the first poll catches up on. */
  readonly query: Omit<AuditQueryInput, 'limit' | 'after' | 'order' | 'since'> & { readonly since: string };
  readonly printer: EventPrinter;
  readonly intervalMs: number;
  /** Aborted on SIGINT/SIGTERM: the loop ends, an in-flight request with it. */
  readonly signal: AbortSignal;
  /** A transient failure (collector down, 5xx) and, later, the recovery: followers keep going through both. */
  readonly warn: (text: string) => void;
}

/**
 * Prints matching events as they arrive, in the order the collector stored them, until the signal aborts.
 * Follows the collector's ingest sequence (order=ingest), never the events' own times: those are supplied
 * by the sidecars, and when this followed the newest event time, one event dated 2099 moved the position
 * past every event still to come, blinding the follower (issue 16). The first poll catches up on events
 * since `since`; from then on the collector's cursor alone says where to go on, so an event stored late
 * with an older time (a sidecar shipping a backlog) is shown too. Full pages are drained at once; memory
 * stays one page.
 */
export async function followEvents(options: FollowOptions): Promise<void> {
  const { fetchPage, printer, signal } = options;
  const { since, ...filters } = options.query;
  let after: string | undefined;
  let failing = false;
  while (!signal.aborted) {
    try {
      const page = await fetchPage(
        {
          ...filters,
          ...(after === undefined ? { since } : { after }),
          order: 'ingest',
          limit: FOLLOW_PAGE_SIZE,
        },
        signal,
      );
      if (failing) options.warn('the collector answers again\n');
      failing = false;
      printer.add(page.events);
      if (page.next !== undefined) after = page.next;
      if (page.events.length >= FOLLOW_PAGE_SIZE) continue; // more are waiting: no pause
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
