import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ACK_FILE } from './ack-cursor.ts';
import { TEMPORARY_SUFFIX } from './atomic-file.ts';
import { IDENTITY_FILE } from './identity.ts';
import { LOST_FILE } from './lost-ranges.ts';
import type { WalLogger } from './options.ts';
import { parseSegmentFileName } from './segment-name.ts';

/**
 * What recovery finds in the WAL directory: the segment files in log order. Temporaries of interrupted
 * state-file replacements are removed; anything else that is not ours is left alone and logged (never
 * deleted: it may be someone's evidence, and it is not ours to judge).
 */
export interface SegmentFile {
  readonly name: string;
  readonly nameSeq: number;
}

export interface WalDirectoryListing {
  readonly segmentFiles: readonly SegmentFile[];
  /** The highest seq any segment-like name claims (files or not): new segments are named above it. */
  readonly highestSegmentName: number;
}

const STATE_FILES = new Set([IDENTITY_FILE, ACK_FILE, LOST_FILE]);

export function listWalDirectory(dir: string, log: WalLogger): WalDirectoryListing {
  const segmentFiles: SegmentFile[] = [];
  let highestSegmentName = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const nameSeq = parseSegmentFileName(entry.name);
    if (nameSeq !== undefined) highestSegmentName = Math.max(highestSegmentName, nameSeq);
    if (nameSeq !== undefined && entry.isFile()) {
      segmentFiles.push({ name: entry.name, nameSeq });
    } else if (STATE_FILES.has(entry.name)) {
      continue;
    } else if (
      entry.isFile() &&
      entry.name.endsWith(TEMPORARY_SUFFIX) &&
      STATE_FILES.has(entry.name.slice(0, -TEMPORARY_SUFFIX.length))
    ) {
      unlinkSync(join(dir, entry.name)); // a state-file replacement cut short by a crash
    } else {
      log.warn({ file: entry.name }, 'ignoring a file in the WAL directory that is not part of the WAL');
    }
  }
  segmentFiles.sort((a, b) => a.nameSeq - b.nameSeq);
  return { segmentFiles, highestSegmentName };
}
