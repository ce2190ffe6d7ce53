import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEventDraft } from '../../../api/audit/v1/event.ts';
import type { WalLogger } from './options.ts';
import type { WalRecord, WriteAheadLog } from './write-ahead-log.ts';

/** Shared by the WAL's tests (not by production code): drafts, temporary directories, a recording logger. */

export function draft(n: number, padding = 0): AuditEventDraft {
  return {
    schema: 'portcullis.dev/audit/v1',
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    kind: 'call',
    time: '2026-11-22T10:15:30.123Z',
    requestId: `req-${n}`,
    server: { namespace: 'finance', name: 'billing' },
    method: 'tools/call',
    tool: 'read_invoice',
    user: 'alice',
    decision: 'allowed',
    latencyMs: 1.5,
    ...(padding > 0 ? { reason: 'x'.repeat(padding) } : {}),
  };
}

/**
 * A fresh directory, removed by the returned cleanup: under the OS temp dir (a real disk, real fsyncs), or
 * for the many-iteration property tests in memory (/dev/shm where it exists: same files, cheap fsyncs).
 */
export function temporaryDirectory(where: 'disk' | 'memory' = 'disk'): { dir: string; cleanup: () => void } {
  const base = where === 'memory' && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'portcullis-wal-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RecordingLogger extends WalLogger {
  readonly entries: { level: 'warn' | 'error'; object: object; message: string }[];
}

export function recordingLogger(): RecordingLogger {
  const entries: RecordingLogger['entries'] = [];
  return {
    entries,
    warn: (object, message) => entries.push({ level: 'warn', object, message }),
    error: (object, message) => entries.push({ level: 'error', object, message }),
  };
}

/** Every durable record above afterSeq, read in batches the way the shipper does. */
export async function readAll(wal: WriteAheadLog, afterSeq = 0, batch = 100): Promise<WalRecord[]> {
  const records: WalRecord[] = [];
  let cursor = afterSeq;
  for (;;) {
    const next = await wal.read(cursor, batch, 1024 * 1024);
    if (next.length === 0) return records;
    records.push(...next);
    cursor = next.at(-1)!.seq;
  }
}

export function parsePayload(record: WalRecord): { seq: number; sidecar: string; requestId: string } {
  return JSON.parse(record.payload.toString('utf8')) as { seq: number; sidecar: string; requestId: string };
}
