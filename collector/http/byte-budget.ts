import type { IncomingMessage } from 'node:http';
import { CollectorError } from '../errors.ts';

/**
 * Bytes the collector holds for requests in flight, bounded: the memory ceiling of ingest and query.
 * A batch of N bytes costs several N while it is parsed and stored (the body, its text, the parsed
 * events, the rows' JSON), and nothing else bounded how many arrive at once: 12 concurrent 500-event
 * batches took the process to 507 MiB, 150 slow 8 MiB uploads to 1.5 GiB (issue 16). A request reserves
 * its share before it reads a byte and returns it when answered; one that does not fit is refused with
 * 429 and Retry-After, which shippers retry, so load beyond the ceiling waits instead of growing memory.
 * One request larger than the whole budget is let through when nothing else is in flight, so a budget
 * below --max-batch-bytes cannot refuse a batch for ever.
 */
export class ByteBudget {
  readonly #limit: number;
  #reserved = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Reserves `bytes`; false when they do not fit now. */
  tryReserve(bytes: number): boolean {
    if (this.#reserved > 0 && this.#reserved + bytes > this.#limit) return false;
    this.#reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#reserved = Math.max(0, this.#reserved - bytes);
  }

  get reserved(): number {
    return this.#reserved;
  }
}

/**
 * Runs `read` (which reads and handles the request's body) with the body's share of `budget` reserved:
 * its declared length, or `limit` (the most it may be) when none is declared. Refused with 429 busy when
 * the share does not fit; returned however `read` ends.
 */
export async function withBodyReserved<T>(
  budget: ByteBudget,
  request: IncomingMessage,
  limit: number,
  read: () => Promise<T>,
): Promise<T> {
  const declared = Number(request.headers['content-length']);
  const share = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, limit) : limit;
  if (!budget.tryReserve(share)) {
    throw new CollectorError('busy', 'the collector holds as many requests as its memory allows; retry', {
      retryAfterSeconds: 1,
    });
  }
  try {
    return await read();
  } finally {
    budget.release(share);
  }
}
