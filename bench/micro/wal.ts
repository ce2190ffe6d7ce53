/**
 * What the audit WAL costs per event: batched appends (the hot path: serialise, frame, CRC, one write(2)),
 * strict appends one at a time (a write plus a group-committed fdatasync), and strict appends from 64
 * concurrent appenders (group commit sharing each fdatasync). Prints JSON.
 * Run: node bench/micro/wal.ts [dir]   (default: a temporary directory under the OS temp dir; use a directory
 * on the volume you care about, fdatasync latency is the disk's)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AuditEventDraft } from '../../api/audit/v1/event.ts';
import { WriteAheadLog } from '../../sidecar/audit/wal/write-ahead-log.ts';

const draft: AuditEventDraft = {
  schema: 'portcullis.dev/audit/v1',
  id: '0b6f4c1e-8d2a-4f57-9c3e-1a2b3c4d5e6f',
  kind: 'call',
  time: '2026-11-22T10:15:30.123Z',
  requestId: 'req-01HZX3K9Q8W7E6R5T4Y3U2I1O0',
  server: { namespace: 'finance', name: 'billing' },
  method: 'tools/call',
  tool: 'read_invoice',
  user: 'alice@example.com',
  agent: 'support-copilot',
  tenant: 'acme',
  decision: 'allowed',
  rule: { policy: 'support-reads-own-tenant', rule: 'read-invoices' },
  policyHash: 'sha256:3f1c0f0e1b7a6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a392817060504',
  argumentsDigest: 'sha256:9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a09',
  outcome: 'ok',
  latencyMs: 12.5,
  sessionId: 'sess-7f3e9a1c',
  clientInfo: { name: 'claude-code', version: '2.1.0' },
  upstreamIdentity: { mode: 'Minted', tokenId: 'b7a1c2d3-e4f5-4a6b-8c9d-0e1f2a3b4c5d' },
};

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(samplesMs: number[]): { p50: number; p99: number } {
  const sorted = samplesMs.map((ms) => ms * 1000).sort((a, b) => a - b);
  return { p50: Number(percentile(sorted, 50).toFixed(2)), p99: Number(percentile(sorted, 99).toFixed(2)) };
}

const root = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'wal-bench-'));
const wal = await WriteAheadLog.open({ dir: join(root, 'wal'), maxBytes: 1024 * 1024 * 1024 });
try {
  const eventBytes = Buffer.byteLength(JSON.stringify({ ...draft, sidecar: wal.sidecarId, seq: 1 }));

  // Batched: in bursts of 1,000 with a pause, so the timed appends also meet the group-commit timer.
  const batched: number[] = [];
  for (let round = 0; round < 60; round++) {
    for (let i = 0; i < 1000; i++) {
      const start = performance.now();
      wal.appendBatched(draft);
      batched.push(performance.now() - start);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  batched.splice(0, 5000); // warm-up
  await wal.flush();

  const strict: number[] = [];
  for (let i = 0; i < 500; i++) {
    const start = performance.now();
    await wal.appendStrict(draft);
    strict.push(performance.now() - start);
  }

  const concurrency = 64;
  const durationMs = 3000;
  let concurrentAppends = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await wal.appendStrict(draft);
        concurrentAppends++;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;

  console.log(
    JSON.stringify(
      {
        eventBytes,
        batchedAppendUs: { ...summary(batched), samples: batched.length },
        strictAppendUs: { ...summary(strict), samples: strict.length },
        strictConcurrent: {
          appenders: concurrency,
          appendsPerSecond: Math.round(concurrentAppends / elapsedS),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await wal.close();
  if (process.argv[2] === undefined) rmSync(root, { recursive: true, force: true });
}
