import fc from 'fast-check';
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferSource } from './byte-source.ts';
import { WalError } from './errors.ts';
import { recordBytes } from './record-format.ts';
import { scanSegment } from './segment-scan.ts';
import { draft, readAll, recordingLogger, temporaryDirectory } from './test-support.ts';
import { WriteAheadLog } from './write-ahead-log.ts';

/**
 * Recovery against arbitrary damage to real segment files: truncation, flipped bytes, zeroed regions
 * (pages lost to a power cut), appended junk, deleted segments and records copied to the wrong place.
 * Whatever happens, recovery must not throw, must return only original records with their original bytes,
 * must account for every hole below the highest recovered seq as lost, and must go on appending.
 */
type Damage =
  | { readonly kind: 'truncate'; readonly file: number; readonly at: number }
  | { readonly kind: 'flip'; readonly file: number; readonly at: number; readonly xor: number }
  | { readonly kind: 'zero'; readonly file: number; readonly at: number; readonly length: number }
  | { readonly kind: 'append'; readonly file: number; readonly junk: Uint8Array }
  | { readonly kind: 'delete'; readonly file: number }
  | { readonly kind: 'duplicate'; readonly file: number; readonly record: number };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), file: fc.nat(), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    file: fc.nat(),
    at: fc.nat(),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('zero' as const),
    file: fc.nat(),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 1500 }),
  }),
  fc.record({
    kind: fc.constant('append' as const),
    file: fc.nat(),
    junk: fc.uint8Array({ maxLength: 400 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), file: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), file: fc.nat(), record: fc.nat() }),
);

function apply(dir: string, d: Damage): void {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort();
  if (files.length === 0) return;
  const path = join(dir, files[d.file % files.length]!);
  const bytes = readFileSync(path);
  if (d.kind === 'delete') rmSync(path);
  else if (d.kind === 'append') writeFileSync(path, Buffer.concat([bytes, d.junk]));
  else if (d.kind === 'duplicate') {
    const records = scanSegment(bufferSource(bytes)).records;
    if (records.length === 0) return;
    const r = records[d.record % records.length]!;
    writeFileSync(
      path,
      Buffer.concat([bytes, bytes.subarray(r.offset, r.offset + recordBytes(r.payloadBytes))]),
    );
  } else if (bytes.length === 0) return;
  else if (d.kind === 'truncate') truncateSync(path, d.at % bytes.length);
  else if (d.kind === 'flip') {
    bytes[d.at % bytes.length]! ^= d.xor;
    writeFileSync(path, bytes);
  } else {
    const start = d.at % bytes.length;
    bytes.fill(0, start, Math.min(bytes.length, start + d.length));
    writeFileSync(path, bytes);
  }
}

function covered(lost: readonly { fromSeq: number; toSeq: number }[], seq: number): boolean {
  return lost.some((range) => range.fromSeq <= seq && seq <= range.toSeq);
}

async function recoveredState(dir: string) {
  const log = recordingLogger();
  const wal = await WriteAheadLog.open({ dir, log, segmentBytes: 1500, syncIntervalMs: 1 });
  const records = await readAll(wal, 0, 16);
  return { wal, records, log };
}

describe('recovery under arbitrary damage', () => {
  it('returns only original records, accounts for every hole, and keeps appending', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(damage, { minLength: 1, maxLength: 4 }),
        async (count, damages) => {
          const { dir, cleanup } = temporaryDirectory('memory');
          try {
            const original = await WriteAheadLog.open({ dir, segmentBytes: 1500 });
            for (let i = 1; i <= count; i++) original.appendBatched(draft(i, (i * 37) % 300));
            await original.flush();
            const payloads = new Map(
              (await readAll(original)).map((r) => [r.seq, r.payload.toString('utf8')]),
            );
            await original.close();
            for (const d of damages) apply(dir, d);

            let state;
            try {
              state = await recoveredState(dir);
            } catch (error) {
              // Damage to segments must never make recovery fail; and nothing untyped may escape, ever.
              expect(error).toBeInstanceOf(WalError);
              throw error;
            }
            const { wal, records } = state;
            const seqs = records.map((r) => r.seq);
            for (const record of records)
              expect(record.payload.toString('utf8')).toBe(payloads.get(record.seq));
            expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
            const highest = seqs.at(-1) ?? 0;
            expect(wal.lastSeq).toBe(highest);
            for (let seq = 1; seq < highest; seq++) expect(covered(wal.lost, seq)).toBe(!seqs.includes(seq));

            const next = draft(highest + 1);
            const stamp = wal.appendBatched(next);
            expect(stamp.seq).toBe(highest + 1);
            await wal.close();

            const again = await recoveredState(dir);
            expect(again.records.map((r) => r.seq)).toEqual([...seqs, highest + 1]);
            expect(again.records.at(-1)!.payload.toString('utf8')).toBe(
              JSON.stringify({ ...next, ...stamp }),
            );
            for (let seq = 1; seq <= highest; seq++)
              expect(covered(again.wal.lost, seq)).toBe(!seqs.includes(seq));
            await again.wal.close();
          } finally {
            cleanup();
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
