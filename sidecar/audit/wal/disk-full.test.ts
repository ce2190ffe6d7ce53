import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bufferSource } from './byte-source.ts';
import { WalFullError } from './errors.ts';
import { scanSegment } from './segment-scan.ts';
import { draft, readAll, temporaryDirectory } from './test-support.ts';
import { WriteAheadLog } from './write-ahead-log.ts';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = temporaryDirectory()));
afterEach(() => cleanup());

/** Appends until the WAL refuses; returns the refusal (the test fails if there is none within limit). */
function fill(wal: WriteAheadLog, padding: number, limit = 10_000): WalFullError {
  for (let i = 0; i < limit; i++) {
    try {
      wal.appendBatched(draft(wal.lastSeq + 1, padding));
    } catch (error) {
      expect(error).toBeInstanceOf(WalFullError);
      return error as WalFullError;
    }
  }
  throw new Error(`the WAL took ${limit} events without refusing one`);
}

describe('WriteAheadLog at its maxBytes bound', () => {
  it('refuses with WalFullError, writes nothing, consumes no seq, and resumes once space is acknowledged', async () => {
    const wal = await WriteAheadLog.open({ dir, maxBytes: 8192, segmentBytes: 2048, syncIntervalMs: 1 });
    const error = fill(wal, 100);
    expect(error.code).toBe('wal_full');
    const { lastSeq, bytes } = wal;
    expect(bytes).toBeLessThanOrEqual(8192);
    expect(() => wal.appendBatched(draft(lastSeq + 1, 100))).toThrow(WalFullError);
    await expect(wal.appendStrict(draft(lastSeq + 1, 100))).rejects.toBeInstanceOf(WalFullError);
    expect(wal.lastSeq).toBe(lastSeq);
    expect(wal.bytes).toBe(bytes);
    expect(wal.hasRoom()).toBe(false);

    await wal.flush();
    await wal.acknowledge(Math.floor(lastSeq / 2));
    expect(wal.bytes).toBeLessThan(bytes);
    expect(wal.appendBatched(draft(lastSeq + 1, 100)).seq).toBe(lastSeq + 1);
    await wal.close();

    const reopened = await WriteAheadLog.open({ dir, maxBytes: 8192, segmentBytes: 2048 });
    const seqs = (await readAll(reopened)).map((r) => r.seq);
    expect(seqs.at(-1)).toBe(lastSeq + 1);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    expect(seqs[0]).toBeLessThanOrEqual(Math.floor(lastSeq / 2) + 1);
    await reopened.close();
  });

  it('answers hasRoom() false once less than the admission reserve is left', async () => {
    const wal = await WriteAheadLog.open({
      dir,
      maxBytes: 8192,
      segmentBytes: 2048,
      admissionReserveBytes: 4096,
    });
    expect(wal.hasRoom()).toBe(true);
    while (wal.bytes + 4096 <= 8192) wal.appendBatched(draft(wal.lastSeq + 1, 100));
    expect(wal.hasRoom()).toBe(false);
    // Events of calls already admitted still fit in the reserve.
    expect(() => wal.appendBatched(draft(wal.lastSeq + 1, 100))).not.toThrow();
    await wal.close();
  });
});

describe('WriteAheadLog on a full volume (a real 64 KiB tmpfs)', () => {
  let mountPoint: string | undefined;

  beforeEach((context) => {
    const target = join(dir, 'volume');
    mkdirSync(target);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', target], { stdio: 'pipe' });
      mountPoint = target;
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? error);
      // Only the lack of privilege is a reason to skip; any other failure is a failure.
      if (/permission denied|EPERM|only root|must be superuser|not permitted/i.test(stderr))
        context.skip(`cannot mount a tmpfs here (${stderr.trim()}): the real ENOSPC test needs root`);
      throw error;
    }
  });

  afterEach(() => {
    if (mountPoint === undefined) return;
    execFileSync('umount', [mountPoint]);
    rmdirSync(mountPoint);
    mountPoint = undefined;
  });

  it('turns ENOSPC into WalFullError, leaves no torn record, and resumes once acknowledged segments are deleted', async () => {
    const walDir = join(mountPoint!, 'wal');
    const options = {
      dir: walDir,
      maxBytes: 1 << 30,
      segmentBytes: 16 * 1024,
      syncIntervalMs: 1,
      volumeFullBackoffMs: 60_000,
    };
    const wal = await WriteAheadLog.open(options);
    // ~980-byte records in 16 KiB segments straddle page boundaries: the failing write is a partial one
    // (the first page's worth lands, then ENOSPC), which the WAL must cut back.
    const error = fill(wal, 600);
    expect(error.message).toMatch(/ENOSPC/);
    expect((error.cause as { code?: string }).code).toBe('ENOSPC');
    const lastSeq = wal.lastSeq;
    expect(wal.hasRoom()).toBe(false); // within the backoff after ENOSPC
    expect(() => wal.appendBatched(draft(lastSeq + 1, 600))).toThrow(WalFullError);
    expect(wal.lastSeq).toBe(lastSeq);

    // No segment holds a torn record: every byte belongs to a valid record.
    await wal.flush();
    const segments = readdirSync(walDir).filter((n) => n.endsWith('.seg'));
    expect(segments.reduce((sum, name) => sum + statSync(join(walDir, name)).size, 0)).toBe(wal.bytes);
    for (const name of segments) {
      const scan = scanSegment(bufferSource(readFileSync(join(walDir, name))));
      expect(scan.tornTail).toBeUndefined();
      expect(scan.damaged).toEqual([]);
    }

    // The shipper's acknowledgement frees space even on the full volume, and appends resume.
    await wal.acknowledge(Math.floor(lastSeq / 2));
    expect(wal.hasRoom()).toBe(true);
    const resumed = wal.appendBatched(draft(lastSeq + 1, 600));
    expect(resumed.seq).toBe(lastSeq + 1);
    await wal.close();

    const reopened = await WriteAheadLog.open(options);
    const seqs = (await readAll(reopened)).map((r) => r.seq);
    expect(seqs.at(-1)).toBe(lastSeq + 1);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    expect(reopened.ackedSeq).toBe(Math.floor(lastSeq / 2));
    expect(reopened.lost).toEqual([]);
    await reopened.close();
  });
});
