import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditEvent, type AuditEventDraft } from '../../../api/audit/v1/event.ts';
import { WalArgumentError, WalClosedError, WalInvalidEventError, WalRecordTooLargeError } from './errors.ts';
import { MAX_PAYLOAD_BYTES } from './record-format.ts';
import { segmentFileName } from './segment-name.ts';
import { draft, parsePayload, readAll, temporaryDirectory } from './test-support.ts';
import { WriteAheadLog, type WriteAheadLogOptions } from './write-ahead-log.ts';

let dir: string;
let cleanup: () => void;
const open: WriteAheadLog[] = [];

beforeEach(() => {
  ({ dir, cleanup } = temporaryDirectory());
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((wal) => wal.close()));
  cleanup();
});

async function openWal(options: Partial<WriteAheadLogOptions> = {}): Promise<WriteAheadLog> {
  const wal = await WriteAheadLog.open({ dir, syncIntervalMs: 1, ...options });
  open.push(wal);
  return wal;
}

function segmentFiles(): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort();
}

describe('WriteAheadLog: append and read', () => {
  it('stamps each draft with the WAL identity and seq 1, 2, 3, and reads back exactly the JSON it wrote', async () => {
    const wal = await openWal();
    expect(wal.sidecarId).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    expect(readFileSync(join(dir, 'identity'), 'utf8')).toBe(`${wal.sidecarId}\n`);
    const stamps = [
      wal.appendBatched(draft(1)),
      wal.appendBatched(draft(2)),
      await wal.appendStrict(draft(3)),
    ];
    expect(stamps).toEqual([1, 2, 3].map((seq) => ({ sidecar: wal.sidecarId, seq })));
    // What a record holds: the draft with the stamp, byte for byte the JSON of the stamped copy.
    const events = [1, 2, 3].map((seq) => ({ ...draft(seq), sidecar: wal.sidecarId, seq }));
    for (const event of events) expect(auditEvent.parse(event)).toEqual(event);
    const records = await wal.read(0, 10, 1 << 20);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.payload.toString('utf8'))).toEqual(events.map((e) => JSON.stringify(e)));
    expect(records.map((r) => parsePayload(r).requestId)).toEqual(['req-1', 'req-2', 'req-3']);
    expect(wal.lastSeq).toBe(3);
  });

  it('overrides a sidecar or seq the draft already carries', async () => {
    const wal = await openWal();
    const forged = { ...draft(1), sidecar: 'forged', seq: 99 } as AuditEventDraft;
    const stamp = wal.appendBatched(forged);
    expect(stamp).toEqual({ sidecar: wal.sidecarId, seq: 1 });
    await wal.flush();
    const [record] = await wal.read(0, 1, 1 << 20);
    expect(parsePayload(record!)).toMatchObject({ sidecar: wal.sidecarId, seq: 1 });
    expect(record!.payload.toString('utf8')).toBe(JSON.stringify({ ...forged, ...stamp }));
  });

  it('keeps its identity and continues the sequence across reopen', async () => {
    const first = await openWal();
    for (let i = 1; i <= 10; i++) first.appendBatched(draft(i));
    await first.close();
    const second = await openWal();
    expect(second.sidecarId).toBe(first.sidecarId);
    expect(second.lastSeq).toBe(10);
    expect(second.appendBatched(draft(11)).seq).toBe(11);
    await second.close();
    const third = await openWal();
    const records = await readAll(third);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(records.map((r) => parsePayload(r).requestId)).toEqual(records.map((r) => `req-${r.seq}`));
  });

  it('rotates segments at segmentBytes, names them by first seq, and reads across them', async () => {
    const wal = await openWal({ segmentBytes: 2048, maxBytes: 1 << 20 });
    for (let i = 1; i <= 60; i++) wal.appendBatched(draft(i, i % 7) /* sizes vary */);
    await wal.flush();
    const files = segmentFiles();
    expect(files.length).toBeGreaterThan(5);
    expect(files[0]).toBe(segmentFileName(1));
    for (const file of files) expect(statSync(join(dir, file)).size).toBeLessThanOrEqual(2048);
    expect(files.reduce((sum, file) => sum + statSync(join(dir, file)).size, 0)).toBe(wal.bytes);
    // Each file name is the seq of its first record.
    const batches = await readAll(wal, 0, 7);
    expect(batches.map((r) => r.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const firstSeqs = files.map((file) => Number(file.slice(0, 20)));
    expect(firstSeqs).toEqual([...firstSeqs].sort((a, b) => a - b));
    await wal.close();
    const reopened = await openWal({ segmentBytes: 2048, maxBytes: 1 << 20 });
    expect((await readAll(reopened, 25, 9)).map((r) => r.seq)).toEqual(
      Array.from({ length: 35 }, (_, i) => i + 26),
    );
  });

  it('gives an event larger than segmentBytes a segment of its own', async () => {
    const wal = await openWal({ segmentBytes: 1024, maxBytes: 1 << 20 });
    wal.appendBatched(draft(1));
    wal.appendBatched(draft(2, 5000));
    wal.appendBatched(draft(3));
    await wal.flush();
    expect(segmentFiles()).toEqual([segmentFileName(1), segmentFileName(2), segmentFileName(3)]);
    expect((await readAll(wal)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('reads at most maxCount records and maxBytes of payload, but always at least one record', async () => {
    const wal = await openWal();
    for (let i = 1; i <= 10; i++) wal.appendBatched(draft(i, 1000));
    await wal.flush();
    expect((await wal.read(0, 3, 1 << 20)).map((r) => r.seq)).toEqual([1, 2, 3]);
    const size = (await wal.read(0, 1, 1 << 20))[0]!.payload.length;
    expect((await wal.read(4, 100, size * 2 + 10)).map((r) => r.seq)).toEqual([5, 6]);
    expect((await wal.read(4, 100, 10)).map((r) => r.seq)).toEqual([5]);
    expect(await wal.read(10, 100, 1 << 20)).toEqual([]);
    await expect(wal.read(-1, 1, 1)).rejects.toBeInstanceOf(WalArgumentError);
    await expect(wal.read(0, 0, 1)).rejects.toBeInstanceOf(WalArgumentError);
  });

  it('hands the shipper only durable records', async () => {
    const wal = await openWal({ syncIntervalMs: 50 });
    wal.appendBatched(draft(1));
    expect(wal.durableSeq).toBe(0);
    expect(await wal.read(0, 10, 1 << 20)).toEqual([]);
    await wal.waitForRecords(0);
    expect(wal.durableSeq).toBe(1);
    expect((await wal.read(0, 10, 1 << 20)).map((r) => r.seq)).toEqual([1]);
  });

  it('wakes a waiting shipper when records become durable, and rejects waiters on abort and close', async () => {
    const wal = await openWal();
    const waiting = wal.waitForRecords(0);
    let woke = false;
    void waiting.then(() => (woke = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(woke).toBe(false);
    wal.appendBatched(draft(1));
    await waiting;
    await expect(wal.waitForRecords(0)).resolves.toBeUndefined();

    const controller = new AbortController();
    const aborted = wal.waitForRecords(1, controller.signal);
    controller.abort(new Error('shipper stopping'));
    await expect(aborted).rejects.toThrow('shipper stopping');

    const pending = wal.waitForRecords(1);
    await wal.close();
    await expect(pending).rejects.toBeInstanceOf(WalClosedError);
  });
});

describe('WriteAheadLog: acknowledge', () => {
  it('deletes segments whose records are all acknowledged, keeps the rest, and frees their bytes', async () => {
    const wal = await openWal({ segmentBytes: 2048, maxBytes: 1 << 20 });
    for (let i = 1; i <= 40; i++) wal.appendBatched(draft(i));
    await wal.flush();
    const before = segmentFiles();
    const bytesBefore = wal.bytes;
    await wal.acknowledge(20);
    expect(wal.ackedSeq).toBe(20);
    const after = segmentFiles();
    expect(after.length).toBeLessThan(before.length);
    expect(wal.bytes).toBe(after.reduce((sum, file) => sum + statSync(join(dir, file)).size, 0));
    expect(wal.bytes).toBeLessThan(bytesBefore);
    // The segment holding seq 21 survives (it may start at or below 20).
    expect(Number(after[0]!.slice(0, 20))).toBeLessThanOrEqual(21);
    expect((await readAll(wal, 20)).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 21));
  });

  it('deletes the active segment once everything is acknowledged, and continues the sequence after restart', async () => {
    const wal = await openWal();
    for (let i = 1; i <= 5; i++) wal.appendBatched(draft(i));
    await wal.flush();
    await wal.acknowledge(5);
    expect(segmentFiles()).toEqual([]);
    expect(wal.bytes).toBe(0);
    expect(wal.appendBatched(draft(6)).seq).toBe(6);
    await wal.flush();
    await wal.acknowledge(6);
    await wal.close();
    expect(segmentFiles()).toEqual([]);

    const reopened = await openWal();
    expect(reopened.ackedSeq).toBe(6);
    expect(reopened.lastSeq).toBe(6);
    expect(reopened.appendBatched(draft(7)).seq).toBe(7);
    expect(segmentFiles()).toEqual([segmentFileName(7)]);
  });

  it('clamps an acknowledgement beyond the durable records, and ignores one that goes backwards', async () => {
    const wal = await openWal();
    for (let i = 1; i <= 3; i++) wal.appendBatched(draft(i));
    await wal.flush();
    await wal.acknowledge(1000);
    expect(wal.ackedSeq).toBe(3);
    await wal.acknowledge(1);
    expect(wal.ackedSeq).toBe(3);
    await expect(wal.acknowledge(-1)).rejects.toBeInstanceOf(WalArgumentError);
    expect(wal.appendBatched(draft(4)).seq).toBe(4);
  });

  it('serialises concurrent acknowledgements', async () => {
    const wal = await openWal({ segmentBytes: 1024, maxBytes: 1 << 20 });
    for (let i = 1; i <= 50; i++) wal.appendBatched(draft(i));
    await wal.flush();
    await Promise.all([30, 10, 50, 20, 40].map((seq) => wal.acknowledge(seq)));
    expect(wal.ackedSeq).toBe(50);
    expect(segmentFiles()).toEqual([]);
    await wal.close();
    expect((await openWal()).ackedSeq).toBe(50);
  });
});

describe('WriteAheadLog: refusals', () => {
  it('refuses an event it cannot serialise without consuming a seq', async () => {
    const wal = await openWal();
    wal.appendBatched(draft(1));
    const bad = { ...draft(2), arguments: { amount: 10n } };
    expect(() => wal.appendBatched(bad)).toThrow(WalInvalidEventError);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await expect(wal.appendStrict({ ...draft(2), arguments: cyclic })).rejects.toMatchObject({
      code: 'wal_invalid_event',
    });
    expect(wal.appendBatched(draft(2)).seq).toBe(2);
  });

  it('refuses an event over the record limit', async () => {
    const wal = await openWal();
    expect(() => wal.appendBatched(draft(1, MAX_PAYLOAD_BYTES))).toThrow(WalRecordTooLargeError);
    expect(wal.appendBatched(draft(1)).seq).toBe(1);
  });

  it('refuses everything after close, and close is idempotent and makes appends durable', async () => {
    const wal = await openWal({ syncIntervalMs: 10_000 });
    wal.appendBatched(draft(1));
    await Promise.all([wal.close(), wal.close()]);
    expect(() => wal.appendBatched(draft(2))).toThrow(WalClosedError);
    await expect(wal.appendStrict(draft(2))).rejects.toBeInstanceOf(WalClosedError);
    await expect(wal.read(0, 1, 1)).rejects.toBeInstanceOf(WalClosedError);
    await expect(wal.acknowledge(1)).rejects.toBeInstanceOf(WalClosedError);
    await expect(wal.waitForRecords(0)).rejects.toBeInstanceOf(WalClosedError);
    expect(wal.hasRoom()).toBe(false);
    expect(wal.durableSeq).toBe(1);
  });

  it.each<[string, Partial<WriteAheadLogOptions>]>([
    ['an empty dir', { dir: '' }],
    ['a zero maxBytes', { maxBytes: 0 }],
    ['a fractional segmentBytes', { segmentBytes: 1.5 }],
    ['segments larger than the bound', { maxBytes: 1000, segmentBytes: 2000 }],
    ['a negative sync interval', { syncIntervalMs: -1 }],
    ['a reserve larger than the bound', { maxBytes: 1000, segmentBytes: 100, admissionReserveBytes: 2000 }],
  ])('refuses %s', async (_, options) => {
    await expect(WriteAheadLog.open({ dir, ...options })).rejects.toMatchObject({
      code: 'wal_invalid_argument',
    });
  });
});

describe('WriteAheadLog: damage found when reading', () => {
  it('skips a record whose bytes changed on disk, reports it lost, and keeps the report until cleared', async () => {
    const wal = await openWal();
    for (let i = 1; i <= 5; i++) wal.appendBatched(draft(i));
    await wal.flush();
    const path = join(dir, segmentFileName(1));
    const bytes = readFileSync(path);
    const third = bytes.indexOf('"req-3"');
    bytes[third + 2] = 'X'.charCodeAt(0);
    writeFileSync(path, bytes);
    expect((await readAll(wal)).map((r) => r.seq)).toEqual([1, 2, 4, 5]);
    expect(wal.lost).toEqual([{ fromSeq: 3, toSeq: 3, reason: expect.stringContaining('checksum') }]);
    await wal.clearLost([]); // waits for the pending write of lost.json
    expect(JSON.parse(readFileSync(join(dir, 'lost.json'), 'utf8'))).toEqual(wal.lost);
    await wal.clearLost([{ fromSeq: 3, toSeq: 3 }]);
    expect(wal.lost).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'lost.json'), 'utf8'))).toEqual([]);
  });
});
