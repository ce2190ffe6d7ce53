import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePayload, readAll, temporaryDirectory } from './test-support.ts';
import { WriteAheadLog } from './write-ahead-log.ts';

const CHILD = join(import.meta.dirname, 'test-child', 'main.ts');

/**
 * Runs the child until it has reported `reports` appends (give or take what is in flight), SIGKILLs it, and
 * returns the seqs it reported and the seq it opened at.
 */
function appendUntilKilled(dir: string, reports: number): Promise<{ openedAt: number; reported: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    let stderr = '';
    let openedAt = -1;
    const reported: number[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('open ')) openedAt = Number(line.slice(5));
        else reported.push(Number(line));
      }
      if (reported.length >= reports && child.exitCode === null && child.signalCode === null)
        child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
      // A partial last line is a report the child may not have finished writing: ignore it.
      else resolve({ openedAt, reported });
    });
  });
}

describe('WriteAheadLog under kill -9', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = temporaryDirectory()));
  afterEach(() => cleanup());

  it('keeps every append the killed process reported, in order and without holes, across repeated kills', async () => {
    let expectedNext = 1;
    for (let round = 0; round < 4; round++) {
      const { openedAt, reported } = await appendUntilKilled(dir, 200 + Math.floor(Math.random() * 3000));
      expect(openedAt + 1).toBe(expectedNext); // the sequence continued where the last process stopped
      expect(reported).toEqual(Array.from({ length: reported.length }, (_, i) => expectedNext + i));

      const wal = await WriteAheadLog.open({ dir });
      const records = await readAll(wal, 0, 500);
      const seqs = records.map((r) => r.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(wal.lastSeq).toBe(seqs.length);
      expect(wal.lastSeq).toBeGreaterThanOrEqual(reported.at(-1) ?? 0);
      expect(wal.lost).toEqual([]);
      for (const record of records.slice(expectedNext - 1))
        expect(parsePayload(record)).toMatchObject({
          seq: record.seq,
          sidecar: wal.sidecarId,
          requestId: `req-${record.seq}`,
        });
      expectedNext = wal.lastSeq + 1;
      await wal.close();
    }
  }, 60_000);
});
