import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AckCursorFile, ackCursorFileContent, parseAckCursor } from './ack-cursor.ts';
import { temporaryDirectory } from './test-support.ts';

describe('ack cursor', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = temporaryDirectory()));
  afterEach(() => cleanup());

  it('alternates slots, so the file always holds the newest and the previous cursor', async () => {
    const path = join(dir, 'acked');
    writeFileSync(path, ackCursorFileContent(0));
    const cursor = AckCursorFile.open(path, parseAckCursor(readFileSync(path))!);
    await cursor.save(5);
    expect(parseAckCursor(readFileSync(path))).toEqual({ seq: 5, nextSlot: 0 });
    await cursor.save(2 ** 40);
    expect(parseAckCursor(readFileSync(path))).toEqual({ seq: 2 ** 40, nextSlot: 1 });
    const content = readFileSync(path);
    content[6]! ^= 1; // tear the newest slot (slot 0)
    expect(parseAckCursor(content)).toEqual({ seq: 5, nextSlot: 0 });
    cursor.close();
  });

  it('coalesces concurrent saves and ends at the highest', async () => {
    const path = join(dir, 'acked');
    writeFileSync(path, ackCursorFileContent(0));
    const cursor = AckCursorFile.open(path, { seq: 0, nextSlot: 0 });
    await Promise.all([3, 9, 1, 7].map((seq) => cursor.save(seq)));
    expect(parseAckCursor(readFileSync(path))?.seq).toBe(9);
    cursor.close();
  });

  it('reads nothing from garbage, an empty file or a short one', () => {
    expect(parseAckCursor(Buffer.alloc(0))).toBeUndefined();
    expect(parseAckCursor(Buffer.from('12\n'))).toBeUndefined();
    expect(parseAckCursor(Buffer.alloc(32))).toBeUndefined();
    expect(parseAckCursor(ackCursorFileContent(7).subarray(0, 20))).toEqual({ seq: 7, nextSlot: 1 });
  });
});
