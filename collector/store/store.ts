import type { AuditEvent } from '../../api/audit/v1/event.ts';
import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import type { AuditQuery } from '../../api/audit/v1/query.ts';

/**
 * Where the collector keeps audit events. Two implementations share this contract and one conformance
 * suite (collector/store/store-conformance.ts): SQLite (node:sqlite, one collector replica, the default)
 * and PostgreSQL (several replicas, HA). Every method resolves only after the store has committed.
 */
export interface AuditStore {
  /**
   * Stores a batch atomically, ignoring events whose (sidecar, seq) is already stored. Also queues every
   * newly stored event for each configured exporter, in the same transaction, so export is at-least-once.
   */
  insert(events: readonly AuditEvent[]): Promise<InsertResult>;
  /** Records a heartbeat and any `lost` ranges as gaps; updates the sidecar's state. */
  heartbeat(beat: Heartbeat): Promise<void>;
  /** One page of events matching the query, with the cursor of the next page (absent on the last). */
  query(query: AuditQuery): Promise<AuditPage>;
  /** Every sidecar the store has seen, with ingest progress and what it last reported. */
  sidecars(): Promise<SidecarState[]>;
  /**
   * Sequence holes per sidecar: seqs below the highest stored one that are missing, and ranges the
   * sidecar reported lost. `olderThan`: only holes whose newer neighbour was stored before this instant
   * (a hole that young may still fill: batches can arrive out of order across collector replicas).
   */
  gaps(olderThan: Date): Promise<Gap[]>;
  /** Deletes events older than the instant; returns how many. Export queue entries go with them. */
  deleteBefore(time: Date): Promise<number>;
  /** Up to `limit` events queued for the exporter, oldest first; they stay queued until acknowledged. */
  pendingExport(exporter: string, limit: number): Promise<PendingExport[]>;
  /** Removes the entries from the exporter's queue (the export succeeded). */
  ackExport(exporter: string, entries: readonly number[]): Promise<void>;
  /** Number of events queued for the exporter. */
  exportBacklog(exporter: string): Promise<number>;
  close(): Promise<void>;
}

export interface InsertResult {
  readonly accepted: number;
  readonly duplicates: number;
}

export interface AuditPage {
  readonly events: AuditEvent[];
  readonly next?: string;
}

export interface SidecarState {
  readonly sidecar: string;
  readonly namespace: string;
  readonly server: string;
  readonly pod?: string;
  readonly firstSeen: string;
  readonly lastHeartbeat?: string;
  /** The highest seq stored. */
  readonly highestSeq: number;
  /** Every seq from 1 through this is stored. */
  readonly contiguousThrough: number;
  /** The last seq the sidecar reported writing (heartbeat). */
  readonly reportedSeq: number;
  readonly policyHash?: string;
  readonly tools?: Heartbeat['tools'];
}

export interface Gap {
  readonly sidecar: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  /** `missing`: a hole in the stored sequence. `lost`: the sidecar reported the range lost. */
  readonly kind: 'missing' | 'lost';
  readonly reason?: string;
}

export interface PendingExport {
  /** Queue entry id, for ackExport. */
  readonly entry: number;
  readonly event: AuditEvent;
}
