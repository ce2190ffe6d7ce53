import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import { AuditStoreError } from './errors.ts';
import type { SeqRange } from './sequence-ranges.ts';
import { holesBetween } from './sequence-ranges.ts';
import type { Gap, SidecarState } from './store.ts';
import { storeTime } from './time.ts';

/** A `sidecars` row as both stores read it (times already in storeTime form). */
export interface SidecarRow {
  readonly sidecar: string;
  readonly namespace: string;
  readonly server: string;
  readonly pod: string | null;
  readonly first_seen: string;
  readonly last_heartbeat: string | null;
  readonly highest_seq: number | string;
  readonly contiguous_through: number | string;
  readonly reported_seq: number | string;
  readonly policy_hash: string | null;
  /** JSON text, or already parsed (PostgreSQL json). */
  readonly tools: string | Heartbeat['tools'] | null;
}

export function sidecarState(row: SidecarRow): SidecarState {
  const tools = typeof row.tools === 'string' ? (JSON.parse(row.tools) as Heartbeat['tools']) : row.tools;
  return {
    sidecar: row.sidecar,
    namespace: row.namespace,
    server: row.server,
    ...(row.pod === null ? {} : { pod: row.pod }),
    firstSeen: row.first_seen,
    ...(row.last_heartbeat === null ? {} : { lastHeartbeat: row.last_heartbeat }),
    highestSeq: Number(row.highest_seq),
    contiguousThrough: Number(row.contiguous_through),
    reportedSeq: Number(row.reported_seq),
    ...(row.policy_hash === null ? {} : { policyHash: row.policy_hash }),
    ...(tools === null || tools === undefined ? {} : { tools }),
  };
}

/** The heartbeat's time in storeTime form, with its lost ranges checked. */
export function checkedHeartbeat(beat: Heartbeat): { time: string; lost: Heartbeat['lost'] } {
  const lost = beat.lost ?? [];
  for (const range of lost) {
    if (!Number.isSafeInteger(range.fromSeq) || range.fromSeq < 1 || range.toSeq < range.fromSeq) {
      throw new AuditStoreError(
        'invalid_event',
        `heartbeat of ${beat.sidecar} reports lost range ${range.fromSeq}-${range.toSeq}: not 1 <= from <= to`,
      );
    }
  }
  return { time: storeTime(beat.time), lost };
}

/**
 * The heartbeat statement's parameters, in the order both stores' upsert declares them:
 * sidecar, namespace, server, pod, first seen (now), last heartbeat, reported seq, policy hash, tools.
 */
export function heartbeatParams(beat: Heartbeat, now: string, time: string) {
  return [
    beat.sidecar,
    beat.server.namespace,
    beat.server.name,
    beat.pod ?? null,
    now,
    time,
    beat.lastSeq,
    beat.policyHash ?? null,
    beat.tools === undefined ? null : JSON.stringify(beat.tools),
  ] as const;
}

export interface LostRow {
  readonly sidecar: string;
  readonly from_seq: number | string;
  readonly to_seq: number | string;
  readonly reason: string;
}

/**
 * Gaps from every sidecar's stored ranges (ascending by sidecar, then seq) and its reported lost ranges.
 * A hole counts once the range above it was stored before `olderThan`; lost ranges count at once. A lost
 * range is reported as such even when it also shows as a missing hole: the two say different things.
 */
export function gapsOf(
  ranges: readonly (SeqRange & { sidecar: string })[],
  lost: readonly LostRow[],
  olderThan: Date,
): Gap[] {
  const cutoff = storeTime(olderThan.toISOString());
  const bySidecar = new Map<string, SeqRange[]>();
  for (const range of ranges) {
    const list = bySidecar.get(range.sidecar) ?? [];
    list.push(range);
    bySidecar.set(range.sidecar, list);
  }
  const gaps: Gap[] = [];
  for (const [sidecar, list] of bySidecar) {
    for (const hole of holesBetween(list)) {
      if (hole.newerStoredAt < cutoff)
        gaps.push({ sidecar, fromSeq: hole.from, toSeq: hole.to, kind: 'missing' });
    }
  }
  for (const row of lost) {
    gaps.push({
      sidecar: row.sidecar,
      fromSeq: Number(row.from_seq),
      toSeq: Number(row.to_seq),
      kind: 'lost',
      reason: row.reason,
    });
  }
  return gaps.sort(
    (a, b) =>
      (a.sidecar < b.sidecar ? -1 : a.sidecar > b.sidecar ? 1 : 0) ||
      a.fromSeq - b.fromSeq ||
      a.kind.localeCompare(b.kind),
  );
}
