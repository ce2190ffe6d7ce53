import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bufferSource } from './byte-source.ts';
import { WalIoError } from './errors.ts';
import { segmentFileName } from './segment-name.ts';
import { scanSegment } from './segment-scan.ts';
import {
  draft,
  parsePayload,
  readAll,
  recordingLogger,
  temporaryDirectory,
  type RecordingLogger,
} from './test-support.ts';
import { WriteAheadLog, type WriteAheadLogOptions } from './write-ahead-log.ts';

let dir: string;
let cleanup: () => void;
let log: RecordingLogger;
const open: WriteAheadLog[] = [];

beforeEach(() => {
  ({ dir, cleanup } = temporaryDirectory());
  log = recordingLogger();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((wal) => wal.close()));
  cleanup();
});

async function openWal(options: Partial<WriteAheadLogOptions> = {}): Promise<WriteAheadLog> {
  const wal = await WriteAheadLog.open({ dir, log, syncIntervalMs: 1, ...options });
  open.push(wal);
  return wal;
}

/** A closed WAL holding seqs 1..count, in segments of segmentBytes. */
async function writeWal(count: number, segmentBytes = 1 << 20): Promise<string> {
  const wal = await WriteAheadLog.open({ dir, segmentBytes, maxBytes: 1 << 24 });
  for (let i = 1; i <= count; i++) wal.appendBatched(draft(i));
  await wal.close();
  return wal.sidecarId;
}

const segment = (firstSeq: number) => join(dir, segmentFileName(firstSeq));
const offsetsIn = (path: string) =>
  scanSegment(bufferSource(readFileSync(path))).records.map((r) => r.offset);
const seqsOf = async (wal: WriteAheadLog) => (await readAll(wal)).map((r) => r.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const messages = () => log.entries.map((e) => e.message);

function patch(path: string, change: (bytes: Buffer) => Buffer | void): void {
  const bytes = readFileSync(path);
  writeFileSync(path, change(bytes) ?? bytes);
}

describe('recovery: torn tails', () => {
  it('cuts off a half-written record, logs it, and continues the sequence after the last good record', async () => {
    await writeWal(5);
    const intact = statSync(segment(1)).size;
    patch(segment(1), (bytes) =>
      Buffer.concat([bytes, bytes.subarray(offsetsIn(segment(1))[1]!).subarray(0, 30)]),
    );
    const wal = await openWal();
    expect(messages()).toContain('truncating the torn tail of a WAL segment');
    expect(statSync(segment(1)).size).toBe(intact);
    expect(wal.lastSeq).toBe(5);
    expect(wal.lost).toEqual([]);
    expect(wal.appendBatched(draft(6)).seq).toBe(6);
    await wal.close();
    expect(await seqsOf(await openWal())).toEqual(range(1, 6));
  });

  it('treats a last record whose pages came back as zeros (power loss) as a torn tail', async () => {
    await writeWal(5);
    const last = offsetsIn(segment(1))[4]!;
    patch(segment(1), (bytes) => void bytes.fill(0, last));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual(range(1, 4));
    expect(wal.lost).toEqual([]);
    expect(wal.appendBatched(draft(5)).seq).toBe(5); // never shipped (not durable), so the seq is free
  });

  it('treats zero-filled pages after the last record as a torn tail', async () => {
    await writeWal(3);
    patch(segment(1), (bytes) => Buffer.concat([bytes, Buffer.alloc(8192)]));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual(range(1, 3));
    expect(log.entries.find((e) => e.message.includes('torn tail'))?.object).toMatchObject({
      reason: 'zero-filled bytes',
    });
  });
});

describe('recovery: damage in the middle', () => {
  it('skips a damaged record, records its seq as lost, keeps the report across restarts until cleared', async () => {
    await writeWal(6);
    const third = offsetsIn(segment(1))[2]!;
    patch(segment(1), (bytes) => void (bytes[third + 40]! ^= 0x04));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual([1, 2, 4, 5, 6]);
    expect(wal.lost).toEqual([
      { fromSeq: 3, toSeq: 3, reason: expect.stringContaining('checksum mismatch') },
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'lost.json'), 'utf8'))).toEqual(wal.lost);
    expect(wal.appendBatched(draft(7)).seq).toBe(7);
    await wal.close();

    const again = await openWal();
    expect(again.lost).toHaveLength(1); // found again, not listed twice
    await again.clearLost([{ fromSeq: 3, toSeq: 3 }]);
    expect(again.lost).toEqual([]);
    expect(await seqsOf(again)).toEqual([1, 2, 4, 5, 6, 7]);
  });

  it.each([
    ['a length beyond the end of the file', 0x0fffffff],
    ['a length beyond the 4 MiB record limit', 0xfffffff0],
    ['a length that is merely wrong', 3],
  ])('resynchronises after %s', async (_, length) => {
    await writeWal(5);
    const second = offsetsIn(segment(1))[1]!;
    patch(segment(1), (bytes) => void bytes.writeUInt32LE(length, second + 4));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual([1, 3, 4, 5]);
    expect(wal.lost.map((r) => [r.fromSeq, r.toSeq])).toEqual([[2, 2]]);
  });

  it('finds the records after a zero-filled hole and reports the seqs in it', async () => {
    await writeWal(8);
    const offsets = offsetsIn(segment(1));
    patch(segment(1), (bytes) => void bytes.fill(0, offsets[2]!, offsets[5]! + 5));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual([1, 2, 7, 8]);
    expect(wal.lost).toEqual([{ fromSeq: 3, toSeq: 6, reason: expect.stringContaining('zero-filled') }]);
  });

  it('reports the seqs of a segment that vanished between two others', async () => {
    await writeWal(30, 1024);
    const files = readdirSync(dir)
      .filter((n) => n.endsWith('.seg'))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(3);
    const from = Number(files[1]!.slice(0, 20));
    const to = Number(files[2]!.slice(0, 20)) - 1;
    unlinkSync(join(dir, files[1]!));
    const wal = await openWal();
    expect(wal.lost.map((r) => [r.fromSeq, r.toSeq])).toEqual([[from, to]]);
    expect(await seqsOf(wal)).toEqual(range(1, 30).filter((s) => s < from || s > to));
  });

  it('reports the seqs of a tail torn off a segment that a later segment follows', async () => {
    await writeWal(30, 2048);
    const files = readdirSync(dir).filter((n) => n.endsWith('.seg'));
    const second = Number(files.sort()[1]!.slice(0, 20));
    expect(second).toBeGreaterThan(3);
    truncateSync(segment(1), offsetsIn(segment(1))[2]! + 10);
    const wal = await openWal();
    expect(wal.lost).toEqual([
      { fromSeq: 3, toSeq: second - 1, reason: expect.stringContaining('torn tail') },
    ]);
    expect(await seqsOf(wal)).toEqual(range(1, 30).filter((s) => s < 3 || s >= second));
  });
});

describe('recovery: hostile directories', () => {
  it('ignores foreign files, deletes empty segments and interrupted state writes, and never reuses a segment name', async () => {
    await writeWal(3);
    writeFileSync(join(dir, 'garbage.seg'), 'not a segment');
    writeFileSync(join(dir, '123.seg'), 'short name');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    writeFileSync(join(dir, segmentFileName(100)), '');
    mkdirSync(join(dir, segmentFileName(200)));
    writeFileSync(join(dir, 'lost.json.tmp'), '[{"fromS');
    const wal = await openWal();
    expect(existsSync(segment(100))).toBe(false);
    expect(existsSync(join(dir, 'lost.json.tmp'))).toBe(false);
    expect(existsSync(join(dir, 'garbage.seg'))).toBe(true);
    expect(log.entries.filter((e) => e.message.includes('not part of the WAL'))).toHaveLength(4);
    expect(wal.appendBatched(draft(4)).seq).toBe(4);
    await wal.flush();
    expect(existsSync(segment(201))).toBe(true);
    await wal.close();
    expect(await seqsOf(await openWal())).toEqual(range(1, 4));
  });

  it('deletes a segment of pure garbage (with magic bytes sprinkled in) and carries on', async () => {
    await writeWal(3);
    const garbage = Buffer.alloc(2 * 1024 * 1024, 0x5a);
    for (let i = 0; i < garbage.length; i += 4099) garbage.set([0xff, 0x50, 0x57, 0x01], i);
    writeFileSync(segment(50), garbage);
    const wal = await openWal();
    expect(existsSync(segment(50))).toBe(false);
    expect(await seqsOf(wal)).toEqual(range(1, 3));
    expect(wal.appendBatched(draft(4)).seq).toBe(4);
  });

  it('ignores a copy of a segment under another name instead of reading its records twice', async () => {
    await writeWal(6);
    copyFileSync(segment(1), segment(40));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual(range(1, 6));
    expect(wal.lost).toEqual([]);
    expect(wal.appendBatched(draft(7)).seq).toBe(7);
  });

  it('reads a segment whose name does not match its first record', async () => {
    await writeWal(4);
    renameSync(segment(1), segment(3));
    const wal = await openWal();
    expect(await seqsOf(wal)).toEqual(range(1, 4));
    expect(wal.appendBatched(draft(5)).seq).toBe(5);
  });
});

describe('recovery: state files', () => {
  it('recovers a truncated identity file from the events in the log', async () => {
    const id = await writeWal(3);
    writeFileSync(join(dir, 'identity'), id.slice(0, 10));
    const wal = await openWal();
    expect(wal.sidecarId).toBe(id);
    expect(readFileSync(join(dir, 'identity'), 'utf8')).toBe(`${id}\n`);
    expect(wal.appendBatched(draft(4))).toMatchObject({ sidecar: id, seq: 4 });
    await wal.flush();
    expect(parsePayload((await readAll(wal, 3))[0]!)).toMatchObject({ sidecar: id, seq: 4 });
  });

  it('follows the log when the identity file names someone else', async () => {
    const id = await writeWal(2);
    writeFileSync(join(dir, 'identity'), 'someone-else\n');
    const wal = await openWal();
    expect(wal.sidecarId).toBe(id);
    expect(messages()).toContain('WAL identity file disagrees with the events in the log; using the log');
  });

  it('starts a new identity, and a new sequence at 1, when the identity is gone and no event names it', async () => {
    const id = await writeWal(3);
    const wal = await openWal();
    await wal.acknowledge(3);
    await wal.close();
    open.splice(0);
    unlinkSync(join(dir, 'identity'));
    const fresh = await openWal();
    expect(fresh.sidecarId).not.toBe(id);
    expect(fresh.ackedSeq).toBe(0);
    expect(fresh.appendBatched(draft(1)).seq).toBe(1);
  });

  it('falls back to 0 (re-shipping) when the ack cursor is garbage', async () => {
    await writeWal(4);
    writeFileSync(join(dir, 'acked'), 'garbage');
    const wal = await openWal();
    expect(wal.ackedSeq).toBe(0);
    expect(await seqsOf(wal)).toEqual(range(1, 4));
    expect(messages().some((m) => m.includes('ack cursor is damaged'))).toBe(true);
  });

  it('keeps the previous cursor when the latest cursor write was torn', async () => {
    await writeWal(10, 512);
    const wal = await openWal({ segmentBytes: 512 });
    await wal.acknowledge(3);
    await wal.acknowledge(7);
    await wal.close();
    open.splice(0);
    const cursor = readFileSync(join(dir, 'acked'));
    expect(cursor).toHaveLength(32);
    // The second write went to slot 0 (slot 1 held the first): tear it.
    patch(join(dir, 'acked'), (bytes) => void (bytes[6]! ^= 0xff));
    const reopened = await openWal();
    expect(reopened.ackedSeq).toBe(3);
    expect((await seqsOf(reopened)).at(-1)).toBe(10);
  });

  it('forgets a damaged lost-range list, and says so', async () => {
    await writeWal(2);
    writeFileSync(join(dir, 'lost.json'), '[{"fromSeq": 1, "to');
    const wal = await openWal();
    expect(wal.lost).toEqual([]);
    expect(messages()).toContain('WAL lost-range list is damaged; ranges recorded before are forgotten');
  });

  it('refuses, with a typed error, a directory where a state file should be', async () => {
    await writeWal(1);
    unlinkSync(join(dir, 'identity'));
    mkdirSync(join(dir, 'identity'));
    await expect(openWal()).rejects.toBeInstanceOf(WalIoError);
  });
});
