/**
 * Before a batch is read, lets more events join it: waits until a full batch (`maxEvents`) is durable,
 * `lingerMs` have passed, or `flush` is aborted (shutdown drains at once), whichever comes first.
 *
 * Why: the WAL makes records durable every few milliseconds (its group commit), and a shipper that sends
 * whatever is durable at that moment sends ~10-event batches at 1,000 calls/s; each batch costs the
 * sidecar and the collector about a millisecond of CPU (a request, a transaction and its fsync, an ack
 * cursor write), so small batches, not events, dominated the audit path's cost. The linger is separate from
 * the WAL's sync interval on purpose: the sync interval is the power-loss window, and widening it to get
 * larger batches would trade evidence for CPU. Lingering trades only delivery delay (bounded by lingerMs):
 * the events are already in the WAL, synced on its own interval, and nothing is acknowledged or deleted
 * any earlier or later than before.
 *
 * No linger when a full batch is already durable (a backlog after an outage ships at full speed).
 */
export async function lingerForBatch(
  wal: {
    readonly ackedSeq: number;
    waitForRecords(afterSeq: number, signal?: AbortSignal): Promise<void>;
  },
  lingerMs: number,
  maxEvents: number,
  flush: AbortSignal,
): Promise<void> {
  if (lingerMs <= 0 || flush.aborted) return;
  const fullBatchSeq = wal.ackedSeq + maxEvents;
  const wake = AbortSignal.any([flush, AbortSignal.timeout(lingerMs)]);
  // Resolves at once, or as soon as, a record with seq >= fullBatchSeq is durable; a timeout or a flush
  // rejects: ship what there is.
  await wal.waitForRecords(fullBatchSeq - 1, wake).catch(() => undefined);
}
