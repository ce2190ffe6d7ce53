import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ACK_FILE, ackCursorFileContent, parseAckCursor, type ParsedAckCursor } from './ack-cursor.ts';
import { fsyncDirectorySync, replaceFileAtomicallySync } from './atomic-file.ts';
import { listWalDirectory } from './directory-listing.ts';
import { systemErrorCode, WalError, WalIoError } from './errors.ts';
import { formatIdentity, IDENTITY_FILE, newSidecarId, parseIdentity } from './identity.ts';
import { formatLostRanges, LOST_FILE, parseLostRanges, type LostRange } from './lost-ranges.ts';
import type { WalLogger } from './options.ts';
import type { Segment } from './segment.ts';
import { recoverSegments } from './segment-recovery.ts';
import { readSmallFile } from './state-file.ts';

/**
 * Rebuilds the WAL's state from its directory before it serves anything (synchronous: nothing else runs
 * yet): the state files, then the segments (segment-recovery.ts), then the identity. Hostile or damaged
 * content never stops it; only a volume it cannot read or write does, with a WalError.
 *
 * The sequence continues after the last valid record, or after the ack cursor when that is higher (all
 * segments acknowledged and deleted), so a seq the collector holds is never reused.
 */
export interface RecoveredWal {
  readonly sidecarId: string;
  readonly ackedSeq: number;
  readonly ackCursor: ParsedAckCursor;
  readonly lastSeq: number;
  readonly lost: LostRange[];
  /** Closed segments in log order, each with at least one record above the ack cursor. */
  readonly segments: Segment[];
  /** New segments are named above this, so they never collide with anything in the directory. */
  readonly highestSegmentName: number;
}

const MAX_STATE_FILE_BYTES = 2 * 1024 * 1024;

export function recoverWal(dir: string, log: WalLogger): RecoveredWal {
  try {
    return recover(dir, log);
  } catch (error) {
    if (error instanceof WalError) throw error;
    const reason = systemErrorCode(error) ?? (error instanceof Error ? error.message : String(error));
    throw new WalIoError(`WAL recovery in ${dir} failed: ${reason}`, { cause: error });
  }
}

function recover(dir: string, log: WalLogger): RecoveredWal {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const listing = listWalDirectory(dir, log);

  const ackContent = readSmallFile(join(dir, ACK_FILE), 64);
  let ackCursor = ackContent === undefined ? undefined : parseAckCursor(ackContent);
  if (ackContent !== undefined && ackCursor === undefined)
    log.warn(
      { file: ACK_FILE },
      'WAL ack cursor is damaged; starting from 0 (the collector ignores re-shipped events)',
    );
  let ackedSeq = ackCursor?.seq ?? 0;

  const lostContent = readSmallFile(join(dir, LOST_FILE), MAX_STATE_FILE_BYTES)?.toString('utf8');
  const parsedLost = lostContent === undefined ? [] : parseLostRanges(lostContent);
  const lostDamaged = parsedLost === undefined;
  if (lostDamaged)
    log.error({ file: LOST_FILE }, 'WAL lost-range list is damaged; ranges recorded before are forgotten');
  const knownLost = parsedLost ?? [];

  const recovered = recoverSegments(dir, listing.segmentFiles, ackedSeq, knownLost, log);
  let lost = recovered.lost;

  const identityContent = readSmallFile(join(dir, IDENTITY_FILE), 256)?.toString('utf8');
  const identityFile = identityContent === undefined ? undefined : parseIdentity(identityContent);
  let sidecarId: string;
  if (recovered.sidecarInLog !== undefined) {
    // The events on disk ship verbatim, under the name they carry: the identity must agree with them.
    sidecarId = recovered.sidecarInLog;
    if (identityFile !== sidecarId)
      log.error(
        {
          identityFile: identityContent === undefined ? 'missing' : (identityFile ?? 'damaged'),
          sidecar: sidecarId,
        },
        'WAL identity file disagrees with the events in the log; using the log',
      );
  } else if (identityFile !== undefined) {
    sidecarId = identityFile;
  } else {
    if (recovered.lastSeq > 0)
      log.error({}, 'WAL identity lost and the log does not name it; its events ship under a new identity');
    else if (ackedSeq > 0 || lost.length > 0) {
      // A new identity starts a new sequence at 1; the old cursor and losses belong to a name that is gone.
      log.error(
        { ackedSeq, lost },
        'WAL identity lost with nothing to recover it from; starting a new identity',
      );
      ackedSeq = 0;
      ackCursor = undefined;
      lost = [];
    }
    sidecarId = newSidecarId();
  }

  if (ackCursor === undefined) {
    // Before the identity: were a new identity written first, a crash here would pair it with the old cursor.
    replaceFileAtomicallySync(join(dir, ACK_FILE), ackCursorFileContent(ackedSeq));
    ackCursor = { seq: ackedSeq, nextSlot: 0 };
  }
  if (identityFile !== sidecarId)
    replaceFileAtomicallySync(join(dir, IDENTITY_FILE), formatIdentity(sidecarId));
  if (lostDamaged || formatLostRanges(lost) !== formatLostRanges(knownLost)) persistLost(dir, lost, log);
  // Always: segments created just before a kill may have directory entries that are not yet durable.
  fsyncDirectorySync(dir);

  return {
    sidecarId,
    ackedSeq,
    ackCursor,
    lastSeq: Math.max(recovered.lastSeq, ackedSeq),
    lost,
    segments: recovered.segments,
    highestSegmentName: listing.highestSegmentName,
  };
}

function persistLost(dir: string, lost: readonly LostRange[], log: WalLogger): void {
  try {
    replaceFileAtomicallySync(join(dir, LOST_FILE), formatLostRanges(lost));
  } catch (error) {
    // Not fatal (a full volume must not keep the sidecar from starting): the damage that produced these
    // ranges is still on disk, so the next recovery finds them again.
    log.error({ err: error, lost }, 'could not persist the WAL lost ranges');
  }
}
