/**
 * The process the kill -9 test kills: opens the WAL in argv[2], appends events (mostly batched, every tenth
 * strict) and, after each append returns, reports its seq on stdout with a synchronous write. A seq on
 * stdout is therefore a promise the WAL made; the test checks every one is kept after SIGKILL.
 */
import { writeSync } from 'node:fs';
import { draft } from '../test-support.ts';
import { WriteAheadLog } from '../write-ahead-log.ts';

const wal = await WriteAheadLog.open({ dir: process.argv[2]!, segmentBytes: 64 * 1024, syncIntervalMs: 2 });
writeSync(1, `open ${wal.lastSeq}\n`);
for (let i = 0; ; i++) {
  const seq = wal.lastSeq + 1;
  const event =
    i % 10 === 9 ? await wal.appendStrict(draft(seq, i % 50)) : wal.appendBatched(draft(seq, i % 50));
  writeSync(1, `${event.seq}\n`);
  if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve)); // let group commits run
}
