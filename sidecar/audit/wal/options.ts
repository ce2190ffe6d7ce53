import { WalArgumentError } from './errors.ts';

export interface WalLogger {
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** One completed group commit: every record up to throughSeq is durable. */
export interface WalSync {
  readonly throughSeq: number;
  readonly durationMs: number;
}

export interface WriteAheadLogOptions {
  /** The WAL directory (a volume of its own in a pod); created when missing. */
  readonly dir: string;
  /** Bound on the bytes of all segments together. Default 256 MiB. */
  readonly maxBytes?: number;
  /** A segment is closed and a new one started when the next record would take it past this. Default 8 MiB. */
  readonly segmentBytes?: number;
  /** How soon a batched append becomes durable (the group-commit period). Default DEFAULT_SYNC_INTERVAL_MS. */
  readonly syncIntervalMs?: number;
  /**
   * hasRoom() answers false once less than this is left, so calls admitted just before the WAL fills can
   * still write the events that record their outcome. Default min(1 MiB, maxBytes / 8).
   */
  readonly admissionReserveBytes?: number;
  /** After the volume reported ENOSPC, hasRoom() answers false for this long (unless space is freed). Default 1 s. */
  readonly volumeFullBackoffMs?: number;
  readonly log?: WalLogger;
  /** Called after every group commit (metrics, tests). */
  readonly onSync?: (sync: WalSync) => void;
}

export interface ResolvedWalOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  readonly syncIntervalMs: number;
  readonly admissionReserveBytes: number;
  readonly volumeFullBackoffMs: number;
  readonly log: WalLogger;
  readonly onSync: ((sync: WalSync) => void) | undefined;
}

/**
 * Batched durability's power-loss window: a batched event reaches the disk within this many milliseconds.
 * 50, not the 5 it was until 2026-12-07: every interval with a write costs an fdatasync, 200 a second per busy
 * sidecar at 5 ms (~40-60 µs of sidecar CPU per call at 1,000 calls/s, and that many flushes of the node's
 * disk for every sidecar on it), 20 at 50. A crashed process loses nothing either way (the kernel has the
 * write); only a power loss or a kernel crash within the window can cost a batched event, and Strict calls
 * still wait for their own fsync (docs/DESIGN.md, "Batched durability syncs every 50 ms").
 */
export const DEFAULT_SYNC_INTERVAL_MS = 50;

const MiB = 1024 * 1024;
const silent: WalLogger = { warn: () => undefined, error: () => undefined };

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new WalArgumentError(`WAL option ${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new WalArgumentError(`WAL option ${name} must be a non-negative number, got ${value}`);
  return value;
}

export function resolveWalOptions(options: WriteAheadLogOptions): ResolvedWalOptions {
  if (typeof options.dir !== 'string' || options.dir === '')
    throw new WalArgumentError('WAL option dir must name a directory');
  const maxBytes = positiveInteger('maxBytes', options.maxBytes ?? 256 * MiB);
  const segmentBytes = positiveInteger('segmentBytes', options.segmentBytes ?? Math.min(8 * MiB, maxBytes));
  if (segmentBytes > maxBytes)
    throw new WalArgumentError(`WAL option segmentBytes (${segmentBytes}) exceeds maxBytes (${maxBytes})`);
  const admissionReserveBytes = nonNegative(
    'admissionReserveBytes',
    options.admissionReserveBytes ?? Math.min(MiB, Math.floor(maxBytes / 8)),
  );
  if (admissionReserveBytes > maxBytes)
    throw new WalArgumentError(
      `WAL option admissionReserveBytes (${admissionReserveBytes}) exceeds maxBytes (${maxBytes})`,
    );
  return {
    dir: options.dir,
    maxBytes,
    segmentBytes,
    syncIntervalMs: nonNegative('syncIntervalMs', options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS),
    admissionReserveBytes,
    volumeFullBackoffMs: nonNegative('volumeFullBackoffMs', options.volumeFullBackoffMs ?? 1000),
    log: options.log ?? silent,
    onSync: options.onSync,
  };
}
