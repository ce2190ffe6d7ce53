/**
 * What one allowed tools/call costs the audit with WAL Batched, split as the sidecar pays it: the decision
 * event (built, appended: the record-decision stage) and the outcome event (built, appended: recordCall).
 * Each iteration is a fresh call with freshly parsed arguments (bench/sidecar/echo-call.ts's ~1 KB
 * payload), as a request would bring, so nothing is cached across calls that is not cached in production.
 * Prints JSON: mean and p50 µs per call of each half and of the build alone (the same events, no WAL).
 * Run: node bench/micro/audit-call.ts [dir]   (default: a temporary directory under the OS temp dir)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { callAuditEvent } from '../../sidecar/audit/record.ts';
import type { SidecarContext } from '../../sidecar/context.ts';
import type { Exchange, ToolCall } from '../../sidecar/exchange.ts';
import { WriteAheadLog } from '../../sidecar/audit/wal/write-ahead-log.ts';

const argumentsText = JSON.stringify({ tenant: 'acme', payload: 'x'.repeat(900) });
const policy = {
  hash: 'sha256:3f1c0f0e1b7a6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a392817060504',
  bundle: {
    server: { namespace: 'bench', name: 'bench' },
    spec: { audit: { arguments: 'Digest', durability: 'Batched' }, upstreamAuth: { mode: 'None' } },
    policies: [{ name: 'bench', audit: undefined }],
  },
};
const context = { clock: Date.now, policy: { current: policy } } as unknown as SidecarContext;

function newCall(): { exchange: Exchange; call: ToolCall } {
  const args = JSON.parse(argumentsText) as Record<string, unknown>;
  const call: ToolCall = {
    index: 0,
    id: 1,
    tool: 'echo',
    args,
    verdict: {
      decision: {
        allowed: true,
        rule: { policy: 'bench', rule: 'echo' },
        policyHash: policy.hash,
        args: { ...args, tenant: 'acme' },
      },
    } as unknown as ToolCall['verdict'],
  };
  const exchange = {
    requestId: crypto.randomUUID(),
    headers: {},
    messages: [],
    principal: { user: 'bench-user', agent: 'bench-agent', tenant: 'acme' },
    sessionId: 'sess-7f3e9a1c',
    policy,
    calls: [call],
  } as unknown as Exchange;
  return { exchange, call };
}

const summary = (samples: number[]) => {
  const sorted = samples.map((ms) => ms * 1000).sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { mean: Number(mean.toFixed(2)), p50: Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(2)) };
};

const root = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'audit-call-bench-'));
const wal = await WriteAheadLog.open({ dir: join(root, 'wal'), maxBytes: 1024 * 1024 * 1024 });
try {
  const decision: number[] = [];
  const outcome: number[] = [];
  const build: number[] = [];
  // In bursts of 1,000 with a pause, so the appends also meet the group-commit timer; the first 5,000 warm up.
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 1000; i++) {
      const { exchange, call } = newCall();
      let start = performance.now();
      wal.appendBatched(callAuditEvent(exchange, context, call));
      call.decisionRecorded = true;
      decision.push(performance.now() - start);
      call.outcome = 'ok';
      start = performance.now();
      wal.appendBatched(callAuditEvent(exchange, context, call, 12.5));
      outcome.push(performance.now() - start);

      const fresh = newCall();
      start = performance.now();
      callAuditEvent(fresh.exchange, context, fresh.call);
      fresh.call.decisionRecorded = true;
      fresh.call.outcome = 'ok';
      callAuditEvent(fresh.exchange, context, fresh.call, 12.5);
      build.push(performance.now() - start);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  for (const samples of [decision, outcome, build]) samples.splice(0, 5000);
  console.log(
    JSON.stringify(
      {
        decisionEventUs: summary(decision),
        outcomeEventUs: summary(outcome),
        bothEventsBuiltOnlyUs: summary(build),
        calls: decision.length,
      },
      null,
      2,
    ),
  );
} finally {
  await wal.close();
  if (process.argv[2] === undefined) rmSync(root, { recursive: true, force: true });
}
