import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferSource } from './byte-source.ts';
import { RecordEncoder } from './record-format.ts';
import { scanSegment } from './segment-scan.ts';

function segmentOf(payloads: readonly string[], firstSeq = 1): { bytes: Buffer; offsets: number[] } {
  const encoder = new RecordEncoder();
  const offsets: number[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  payloads.forEach((payload, i) => {
    const record = Buffer.from(encoder.encode(firstSeq + i, payload));
    offsets.push(offset);
    parts.push(record);
    offset += record.length;
  });
  return { bytes: Buffer.concat(parts), offsets };
}

const payloads = Array.from({ length: 6 }, (_, i) => JSON.stringify({ n: i, text: 'y'.repeat(i * 7) }));

describe('scanSegment', () => {
  it('reads every record of an intact segment', () => {
    const { bytes, offsets } = segmentOf(payloads);
    const scan = scanSegment(bufferSource(bytes));
    expect(scan.records.map((r) => [r.seq, r.offset])).toEqual(offsets.map((offset, i) => [i + 1, offset]));
    expect(scan.damaged).toEqual([]);
    expect(scan.tornTail).toBeUndefined();
  });

  it('reports an empty file as empty', () => {
    expect(scanSegment(bufferSource(Buffer.alloc(0)))).toEqual({
      records: [],
      damaged: [],
      tornTail: undefined,
    });
  });

  it.each([
    ['a header cut short', (b: Buffer, last: number) => b.subarray(0, last + 7), 'incomplete record header'],
    [
      'a payload cut short',
      (b: Buffer, last: number) => b.subarray(0, last + 25),
      'incomplete record payload',
    ],
    [
      'a record whose pages never reached the disk (zeros)',
      (b: Buffer, last: number) => Buffer.concat([b.subarray(0, last), Buffer.alloc(b.length - last)]),
      'zero-filled bytes',
    ],
    [
      'a bad checksum on the last record',
      (b: Buffer) => {
        const copy = Buffer.from(b);
        copy[copy.length - 2]! ^= 0x20;
        return copy;
      },
      'record checksum mismatch',
    ],
    [
      'garbage after the last record',
      (b: Buffer) => Buffer.concat([b, Buffer.from('garbage!garbage!garbage!')]),
      'invalid record header',
    ],
  ])('treats %s as a torn tail', (_, damage, reason) => {
    const { bytes, offsets } = segmentOf(payloads);
    const last = offsets.at(-1)!;
    const scan = scanSegment(bufferSource(damage(bytes, last)));
    const kept = reason === 'invalid record header' ? 6 : 5;
    expect(scan.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6].slice(0, kept));
    expect(scan.tornTail).toEqual({ offset: kept === 6 ? bytes.length : last, reason });
    expect(scan.damaged).toEqual([]);
  });

  it('skips a damaged record in the middle and resynchronises on the next valid one', () => {
    const { bytes, offsets } = segmentOf(payloads);
    const damaged = Buffer.from(bytes);
    damaged[offsets[2]! + 22]! ^= 0xff; // inside record 3's payload
    damaged.writeUInt32LE(0xffffffff, offsets[3]! + 4); // record 4's length
    const scan = scanSegment(bufferSource(damaged));
    expect(scan.records.map((r) => r.seq)).toEqual([1, 2, 5, 6]);
    expect(scan.damaged).toEqual([
      { offset: offsets[2], end: offsets[4], reason: 'record checksum mismatch' },
    ]);
    expect(scan.tornTail).toBeUndefined();
  });

  it('finds records after a zero-filled hole in the middle', () => {
    const { bytes, offsets } = segmentOf(payloads);
    const holed = Buffer.from(bytes);
    holed.fill(0, offsets[1]!, offsets[3]! + 3);
    const scan = scanSegment(bufferSource(holed));
    expect(scan.records.map((r) => r.seq)).toEqual([1, 5, 6]);
    expect(scan.damaged).toEqual([{ offset: offsets[1], end: offsets[4], reason: 'zero-filled bytes' }]);
  });

  it('never returns anything but original, intact records at their original offsets, whatever the damage', () => {
    const { bytes, offsets } = segmentOf(payloads);
    const damage = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        value: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('zero' as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 64 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), junk: fc.uint8Array({ maxLength: 64 }) }),
    );
    fc.assert(
      fc.property(fc.array(damage, { maxLength: 5 }), (damages) => {
        let buffer = Buffer.from(bytes);
        for (const d of damages) {
          if (d.kind === 'append') buffer = Buffer.concat([buffer, d.junk]);
          else if (buffer.length === 0) continue;
          else if (d.kind === 'flip') buffer[d.at % buffer.length]! ^= d.value;
          else if (d.kind === 'zero') {
            const start = d.at % buffer.length;
            buffer.fill(0, start, Math.min(buffer.length, start + d.length));
          } else buffer = buffer.subarray(0, d.at % buffer.length);
        }
        const scan = scanSegment(bufferSource(buffer));
        for (const record of scan.records) {
          expect(record.offset).toBe(offsets[record.seq - 1]);
          expect(
            buffer
              .subarray(record.offset, record.offset + 20 + record.payloadBytes)
              .equals(bytes.subarray(record.offset, record.offset + 20 + record.payloadBytes)),
          ).toBe(true);
        }
        const seqs = scan.records.map((r) => r.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        // Everything is accounted for: records, damaged regions and the torn tail tile the file.
        let covered = 0;
        const pieces = [
          ...scan.records.map((r) => [r.offset, r.offset + 20 + r.payloadBytes]),
          ...scan.damaged.map((d) => [d.offset, d.end]),
          ...(scan.tornTail ? [[scan.tornTail.offset, buffer.length]] : []),
        ].sort((a, b) => a[0]! - b[0]!);
        for (const [start, end] of pieces) {
          expect(start).toBe(covered);
          covered = end!;
        }
        expect(covered).toBe(buffer.length);
      }),
      { numRuns: 500 },
    );
  });
});
