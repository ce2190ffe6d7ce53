import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalRecordTooLargeError } from './errors.ts';
import {
  checksumMatches,
  MAX_PAYLOAD_BYTES,
  parseHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC_BYTES,
  RecordEncoder,
} from './record-format.ts';

describe('record framing', () => {
  it('round-trips seq and payload, and the checksum holds', () => {
    const record = Buffer.from(new RecordEncoder().encode(42, '{"a":"é😀"}'));
    const header = parseHeader(record, 0)!;
    expect(header).toMatchObject({ seq: 42, payloadBytes: Buffer.byteLength('{"a":"é😀"}') });
    expect(record.subarray(RECORD_HEADER_BYTES).toString('utf8')).toBe('{"a":"é😀"}');
    expect(checksumMatches(record, 0, header)).toBe(true);
    expect(record.subarray(0, 4)).toEqual(RECORD_MAGIC_BYTES);
  });

  it('keeps seqs up to 2^53 - 1 exact', () => {
    for (const seq of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      const record = new RecordEncoder().encode(seq, '{}');
      expect(parseHeader(record, 0)?.seq).toBe(seq);
    }
  });

  it('detects any single flipped bit in the seq or the payload', () => {
    const original = Buffer.from(new RecordEncoder().encode(7, '{"tool":"read_invoice"}'));
    for (let byte = 12; byte < original.length; byte++)
      for (let bit = 0; bit < 8; bit++) {
        const damaged = Buffer.from(original);
        damaged[byte]! ^= 1 << bit;
        const header = parseHeader(damaged, 0);
        expect(header === undefined || !checksumMatches(damaged, 0, header)).toBe(true);
      }
  });

  it('refuses headers no writer produces: wrong magic, oversized length, seq 0, seq beyond 2^53', () => {
    const good = () => Buffer.from(new RecordEncoder().encode(1, '{}'));
    const wrongMagic = good();
    wrongMagic[0] = 0;
    const hugeLength = good();
    hugeLength.writeUInt32LE(MAX_PAYLOAD_BYTES + 1, 4);
    const seqZero = good();
    seqZero.writeUInt32LE(0, 12);
    const seqTooBig = good();
    seqTooBig.writeUInt32LE(0x00200000, 16);
    for (const buffer of [wrongMagic, hugeLength, seqZero, seqTooBig])
      expect(parseHeader(buffer, 0)).toBeUndefined();
    expect(parseHeader(Buffer.alloc(RECORD_HEADER_BYTES), 0)).toBeUndefined();
  });

  it('grows its scratch buffer for large events and refuses events over the record limit', () => {
    const encoder = new RecordEncoder();
    const large = JSON.stringify({ reason: 'é'.repeat(200_000) });
    const record = encoder.encode(3, large);
    expect(record.subarray(RECORD_HEADER_BYTES).toString('utf8')).toBe(large);
    expect(checksumMatches(record, 0, parseHeader(record, 0)!)).toBe(true);
    expect(encoder.encode(4, '{"small":true}').subarray(RECORD_HEADER_BYTES).toString()).toBe(
      '{"small":true}',
    );
    expect(() => encoder.encode(5, JSON.stringify({ reason: 'x'.repeat(MAX_PAYLOAD_BYTES) }))).toThrow(
      WalRecordTooLargeError,
    );
  });

  it('uses a magic that no JSON text can contain, so a payload can never pass for a record start', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        // Any UTF-16 code unit, lone surrogates and control characters included.
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
          maxLength: 200,
        }),
        (value, text) => {
          for (const json of [JSON.stringify(value), JSON.stringify({ text })])
            expect(Buffer.from(json, 'utf8').indexOf(RECORD_MAGIC_BYTES)).toBe(-1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
