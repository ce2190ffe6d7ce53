import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import {
  HEARTBEAT_PATH,
  INGEST_PATH,
  SIDECAR_HEADER,
  UNSTORABLE_EVENT,
  ingestAck,
  ingestRefusal,
} from '../../api/audit/v1/ingest.ts';
import { Backoff } from '../../lib/backoff.ts';
import { lingerForBatch } from './ship-linger.ts';
import type { AuditShippingMetrics } from './shipper-metrics.ts';

/** The part of the write-ahead log the shipper uses. */
export interface ShippableLog {
  readonly sidecarId: string;
  readonly lastSeq: number;
  readonly ackedSeq: number;
  readonly bytes: number;
  readonly lost: readonly LostRange[];
  read(
    afterSeq: number,
    maxCount: number,
    maxBytes: number,
  ): Promise<readonly { seq: number; payload: Buffer }[]>;
  acknowledge(throughSeq: number): Promise<void>;
  clearLost(ranges: readonly LostRange[]): Promise<void>;
  /** Records a range as lost (persisted before it resolves), to be reported with the next heartbeat. */
  reportLost(range: LostRange): Promise<void>;
  /** Resolves when a durable record with seq > afterSeq exists; rejects on abort. */
  waitForRecords(afterSeq: number, signal?: AbortSignal): Promise<void>;
}

export interface LostRange {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly reason: string;
}

export interface ShipperOptions {
  readonly wal: ShippableLog;
  /** The collector's base URL (http(s)://host:port). */
  readonly collectorUrl: string;
  /** A projected service-account token with the collector's audience; re-read for every request (rotation). */
  readonly tokenFile: string;
  /** Who this sidecar is, for heartbeats (the events name their server themselves). */
  readonly server: () => { namespace: string; name: string } | undefined;
  readonly pod?: string;
  /** What the sidecar serves, reported with every heartbeat (McpServer status). */
  readonly serving: () => Pick<Heartbeat, 'policyHash' | 'tools'>;
  readonly metrics: AuditShippingMetrics;
  readonly log: Logger;
  readonly clock: () => number;
  /**
   * The connection pool to use, asked for every request: the collector's CA can be replaced while the
   * shipper runs (collector-trust.ts). Unset: undici's default (the system roots).
   */
  readonly dispatcher?: () => Dispatcher;
  readonly maxBatchEvents?: number;
  readonly maxBatchBytes?: number;
  /**
   * How long to let a batch fill before it is sent (ship-linger.ts); 0 (the default here; the sidecar's
   * configuration defaults to DEFAULT_SHIP_LINGER_MS) sends whatever is durable at once.
   */
  readonly lingerMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly backoff?: Backoff;
}

export type ShipperErrorCode =
  'collector_unavailable' | 'collector_rejected' | 'bad_ack' | 'token_unreadable';

export class ShipperError extends Error {
  readonly code: ShipperErrorCode;
  readonly status?: number;
  /** The collector's error code, when it sent a typed refusal. */
  readonly refusal?: string;
  /** unstorable_event: the seq the collector can never store. */
  readonly seq?: number;

  constructor(
    code: ShipperErrorCode,
    message: string,
    status?: number,
    detail?: { refusal?: string; seq?: number },
  ) {
    super(message);
    this.name = 'ShipperError';
    this.code = code;
    if (status !== undefined) this.status = status;
    if (detail?.refusal !== undefined) this.refusal = detail.refusal;
    if (detail?.seq !== undefined) this.seq = detail.seq;
  }
}

/**
 * Drains the write-ahead log to the collector: batches in sequence order, deleted from the WAL only
 * once the collector says it has stored them durably. Failures are retried forever with jittered
 * backoff: an event is never silently dropped here (a WAL that fills refuses calls instead, upstream of
 * us). One refusal is final: unstorable_event (422) names an event no retry can store (deeper or larger
 * than the collector's bounds). Retrying it would stall everything behind it until the WAL filled and
 * the sidecar refused calls, so that seq is recorded as lost (persisted, then reported with the next
 * heartbeat as a gap, where the collector shows it) and the rest is shipped. A batch too large (413) is
 * split; a single event too large is unstorable too.
 * Heartbeats carry the last written sequence so the collector can tell lag from loss.
 */
export class AuditShipper {
  readonly #options: ShipperOptions;
  readonly #stop = new AbortController();
  /** Aborted when stopping: from then on batches go out without lingering. */
  readonly #flush = new AbortController();
  readonly #backoff: Backoff;
  #running: Promise<void> | undefined;
  #lastHeartbeat = 0;
  #lastFailureLog = 0;

  constructor(options: ShipperOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? new Backoff();
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops after the batch in flight; with `drainMs`, first keeps shipping until the WAL is empty or the time is up. */
  async stop(drainMs = 0): Promise<void> {
    const deadline = this.#options.clock() + drainMs;
    this.#flush.abort();
    while (
      drainMs > 0 &&
      this.#options.wal.ackedSeq < this.#options.wal.lastSeq &&
      this.#options.clock() < deadline
    )
      await sleep(20);
    this.#stop.abort();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { wal, metrics } = this.#options;
    const maxEvents = this.#options.maxBatchEvents ?? 500;
    const maxBytes = this.#options.maxBatchBytes ?? 4 * 1024 * 1024;
    const heartbeatMs = this.#options.heartbeatIntervalMs ?? 10_000;
    const lingerMs = this.#options.lingerMs ?? 0;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      try {
        if (this.#options.clock() - this.#lastHeartbeat >= heartbeatMs) await this.#heartbeat();
        if (wal.lastSeq > wal.ackedSeq) await lingerForBatch(wal, lingerMs, maxEvents, this.#flush.signal);
        const records = await wal.read(wal.ackedSeq, maxEvents, maxBytes);
        metrics.walBytes.set(wal.bytes);
        metrics.walRecords.set(wal.lastSeq - wal.ackedSeq);
        if (records.length === 0) {
          await this.#idle(heartbeatMs, signal);
          continue;
        }
        await this.#ship(records);
        this.#backoff.reset();
      } catch (error) {
        if (signal.aborted) break;
        this.#reportFailure(error);
        await sleep(this.#backoff.next(), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Waits for new records or the next heartbeat, whichever is first. */
  async #idle(heartbeatMs: number, stop: AbortSignal): Promise<void> {
    const wake = AbortSignal.any([
      stop,
      AbortSignal.timeout(Math.max(1, heartbeatMs - (this.#options.clock() - this.#lastHeartbeat))),
    ]);
    await this.#options.wal.waitForRecords(this.#options.wal.ackedSeq, wake).catch(() => undefined);
  }

  /** Sends and acknowledges `records`; splits what is too large, and gives up only on unstorable events. */
  async #ship(records: readonly { seq: number; payload: Buffer }[]): Promise<void> {
    const { wal, metrics } = this.#options;
    try {
      await this.#send(records);
    } catch (error) {
      if (!(error instanceof ShipperError)) throw error;
      if (error.status === 413 && records.length > 1) {
        const half = Math.ceil(records.length / 2);
        await this.#ship(records.slice(0, half));
        await this.#ship(records.slice(half));
        return;
      }
      const seq = error.status === 413 ? records[0]!.seq : error.seq;
      if (seq === undefined) throw error;
      const before = records.filter((record) => record.seq < seq);
      if (before.length > 0) await this.#ship(before);
      await wal.reportLost({
        fromSeq: seq,
        toSeq: seq,
        reason: `refused by the collector for good: ${error.message}`.slice(0, 1024),
      });
      await wal.acknowledge(seq);
      metrics.lastAckedSeq.set(seq);
      // Report the loss now rather than at the next heartbeat interval.
      this.#lastHeartbeat = Number.NEGATIVE_INFINITY;
      return;
    }
    const through = records.at(-1)!.seq;
    await wal.acknowledge(through);
    metrics.shipped.inc(records.length);
    metrics.lastAckedSeq.set(through);
  }

  async #send(records: readonly { seq: number; payload: Buffer }[]): Promise<void> {
    const parts: Buffer[] = [];
    for (const record of records) parts.push(record.payload, NEWLINE);
    const body = Buffer.concat(parts);
    const response = await this.#post(INGEST_PATH, 'application/x-ndjson', body);
    const text = await response.body.text();
    if (response.statusCode !== 200) this.#refused(response.statusCode, text, 'batch', records);
    this.#options.metrics.batches.inc({ result: 'ok' });
    const ack = ingestAck.safeParse(safeJson(text));
    const through = records.at(-1)!.seq;
    // The collector acknowledges the whole batch or nothing: anything else is a defect, not progress.
    if (
      !ack.success ||
      ack.data.throughSeq !== through ||
      ack.data.accepted + ack.data.duplicates !== records.length
    )
      throw new ShipperError(
        'bad_ack',
        `the collector answered with an unexpected acknowledgement: ${text.slice(0, 200)}`,
      );
  }

  async #heartbeat(): Promise<void> {
    const { wal } = this.#options;
    const server = this.#options.server();
    if (server === undefined) return; // no policy yet: nothing to name ourselves by
    this.#lastHeartbeat = this.#options.clock();
    const lost = [...wal.lost];
    const beat: Heartbeat = {
      sidecar: wal.sidecarId,
      server,
      ...(this.#options.pod ? { pod: this.#options.pod } : {}),
      time: new Date(this.#options.clock()).toISOString(),
      lastSeq: wal.lastSeq,
      ackedSeq: wal.ackedSeq,
      lost,
      walBytes: wal.bytes,
      ...this.#options.serving(),
    };
    const response = await this.#post(HEARTBEAT_PATH, 'application/json', Buffer.from(JSON.stringify(beat)));
    const text = await response.body.text();
    if (response.statusCode !== 204 && response.statusCode !== 200)
      this.#refused(response.statusCode, text, 'heartbeat');
    if (lost.length > 0) await wal.clearLost(lost);
  }

  async #post(path: string, contentType: string, body: Buffer): Promise<Dispatcher.ResponseData> {
    const token = await readToken(this.#options.tokenFile);
    try {
      return await request(new URL(path, this.#options.collectorUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': contentType,
          [SIDECAR_HEADER]: this.#options.wal.sidecarId,
        },
        body,
        headersTimeout: this.#options.requestTimeoutMs ?? 10_000,
        bodyTimeout: this.#options.requestTimeoutMs ?? 10_000,
        ...(this.#options.dispatcher ? { dispatcher: this.#options.dispatcher() } : {}),
      });
    } catch (error) {
      this.#options.metrics.batches.inc({ result: 'unavailable' });
      throw new ShipperError(
        'collector_unavailable',
        `the collector is unreachable: ${(error as Error).message}`,
      );
    }
  }

  #refused(status: number, text: string, what: string, records: readonly { seq: number }[] = []): never {
    const transient = status >= 500 || status === 429 || status === 408;
    this.#options.metrics.batches.inc({ result: transient ? 'unavailable' : 'rejected' });
    const refusal = ingestRefusal.safeParse(safeJson(text));
    const code = refusal.success ? refusal.data.error.code : undefined;
    const named = refusal.success ? refusal.data.error.seq : undefined;
    // Only a seq of this batch: a refusal naming anything else is a defect, retried like any other.
    const seq =
      status === 422 && code === UNSTORABLE_EVENT && records.some((r) => r.seq === named) ? named : undefined;
    throw new ShipperError(
      transient ? 'collector_unavailable' : 'collector_rejected',
      `the collector refused the ${what} with ${status}: ${text.slice(0, 300)}`,
      status,
      { ...(code === undefined ? {} : { refusal: code }), ...(seq === undefined ? {} : { seq }) },
    );
  }

  /** Logged at most every 10 s: an outage is one story, not a line per retry. */
  #reportFailure(error: unknown): void {
    const now = this.#options.clock();
    if (now - this.#lastFailureLog < 10_000) return;
    this.#lastFailureLog = now;
    const rejected = error instanceof ShipperError && error.code === 'collector_rejected';
    this.#options.log[rejected ? 'error' : 'warn'](
      {
        err: error,
        pending: this.#options.wal.lastSeq - this.#options.wal.ackedSeq,
        walBytes: this.#options.wal.bytes,
      },
      rejected
        ? 'the collector refuses audit events; they stay in the WAL and are retried'
        : 'audit shipping is failing; events stay in the WAL and are retried',
    );
  }
}

const NEWLINE = Buffer.from('\n');

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readToken(file: string): Promise<string> {
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length === 0) throw new Error('the file is empty');
    return token;
  } catch (error) {
    // The message names the file, never its content.
    throw new ShipperError(
      'token_unreadable',
      `cannot read the collector token from ${file}: ${(error as Error).message}`,
    );
  }
}
