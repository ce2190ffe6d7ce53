import { MAX_AUDIT_EVENT_BYTES } from '../../lib/json-limits.ts';

/**
 * The most event text one query page holds: pages end at `limit` rows or at this many bytes of stored
 * events, whichever comes first (always at least one event), with `next` to go on. Rows alone did not
 * bound it: a default `limit=100` page of large events took the process to 2.8 GiB (issue 16).
 */
export const MAX_PAGE_BYTES = 2 * 1024 * 1024;

/**
 * What a query reserves from the in-flight budget while it runs: the page's text, its parsed events
 * (about twice the text) and the response (once more), plus the event that crosses the cap (a page ends
 * after it; one event may be up to MAX_AUDIT_EVENT_BYTES, lib/json-limits.ts).
 */
export const QUERY_PAGE_RESERVE_BYTES = 4 * MAX_PAGE_BYTES + MAX_AUDIT_EVENT_BYTES;

/** Takes rows while the page has room: at most `limit + 1` (to learn whether more exist), and stops past MAX_PAGE_BYTES. */
export class PageFill {
  readonly #limit: number;
  #bytes = 0;
  #count = 0;
  /** True when the page ended on bytes, not rows: there may be more, whatever the row count says. */
  full = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds a row of `bytes`; false when the page takes no more rows (the row is not taken). */
  take(bytes: number): boolean {
    if (this.#count > this.#limit) return false;
    if (this.#count > 0 && this.#bytes >= MAX_PAGE_BYTES) {
      this.full = true;
      return false;
    }
    this.#count++;
    this.#bytes += bytes;
    return true;
  }
}
