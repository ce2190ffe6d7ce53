/**
 * Collector ingest, end to end over HTTP: several concurrent senders, each one sidecar id, POST NDJSON
 * batches (500 events of ~690 bytes) to /v1/events with a sidecar service-account token (verified once,
 * then cached by the collector), and send the next batch when the previous one is acknowledged, as the
 * sidecar shipper does. The collector is its own process pinned to one core (`taskset -c 1`); the senders
 * (this process) and, for PostgreSQL, the database server are pinned to the other core, so the collector has
 * its core to itself. Reported: acknowledged events per second (wall clock), the collector's CPU seconds
 * per event, and how busy its core was (below ~0.9 the collector was waiting, on fsync or the database,
 * not computing).
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { AUDIT_SCHEMA, auditEvent, type AuditEvent } from '../../api/audit/v1/event.ts';
import { INGEST_PATH, SIDECAR_HEADER } from '../../api/audit/v1/ingest.ts';
import { startCollectorProcess, type ServiceAccountIssuer } from './collector.ts';
import { CLI_MAIN, CpuWindow, sumCpuSeconds, promValue, round1, round2, scrape, sleep } from './support.ts';

const run = promisify(execFile);

export interface IngestSettings {
  readonly senders: number;
  readonly batchEvents: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly collectorCpu: string;
  readonly senderCpu: string;
  /** Node flags for the collector, e.g. --cpu-prof to see where its time goes. */
  readonly collectorNodeFlags?: readonly string[];
  /** The collector's cli/main.js (default: PORTCULLIS_MAIN, the build under test); a baseline build's for before/after. */
  readonly collectorMain?: string;
}

/**
 * One event as the sidecar writes it for an allowed tools/call (arguments as a digest, upstream identity
 * None, no session): the same fields, ~690 bytes, as bench/audit/store.ts uses.
 */
function event(sidecar: string, seq: number, time: string): AuditEvent {
  return {
    schema: AUDIT_SCHEMA,
    time,
    requestId: randomUUID(),
    server: { namespace: 'bench', name: 'bench' },
    user: `user-${seq % 97}@example.com`,
    agent: 'support-copilot',
    tenant: 'acme',
    latencyMs: 12.5,
    id: randomUUID(),
    kind: 'call',
    method: 'tools/call',
    tool: `tool-${seq % 13}`,
    decision: 'allowed',
    rule: { policy: 'support', rule: 'reads' },
    policyHash: 'sha256:3f1c0f0e1b7a6d5c4b3a29180716f5e4d3c2b1a09f8e7d6c5b4a392817060504',
    argumentsDigest: 'sha256:9e8d7c6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a09',
    outcome: 'ok',
    upstreamIdentity: { mode: 'None' },
    sidecar,
    seq,
  };
}

function batch(sidecar: string, fromSeq: number, count: number): Buffer {
  const time = new Date().toISOString();
  let text = '';
  for (let i = 0; i < count; i++) text += `${JSON.stringify(event(sidecar, fromSeq + i, time))}\n`;
  return Buffer.from(text);
}

/** The pids of a process and everything below it (PostgreSQL: the postmaster and its backends). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]!) ?? []));
  return out;
}

export async function runIngest(
  store: 'sqlite' | 'postgres',
  settings: IngestSettings,
  issuer: ServiceAccountIssuer,
  postgres?: { url: string; postmasterPid: number },
) {
  const sample = batch('bench-sample', 1, 50);
  const lines = sample.toString('utf8').trimEnd().split('\n');
  for (const line of lines) auditEvent.parse(JSON.parse(line)); // fail fast on a schema change
  const meanEventBytes = Math.round((sample.length - lines.length) / lines.length);

  if (postgres) {
    for (const pid of descendants(postgres.postmasterPid))
      await run('taskset', ['-a', '-p', '-c', settings.senderCpu, String(pid)]).catch(() => undefined);
  }
  const collector = await startCollectorProcess(issuer, {
    cpus: settings.collectorCpu,
    nodeFlags: settings.collectorNodeFlags ?? [],
    ...(settings.collectorMain ? { main: settings.collectorMain } : {}),
    ...(postgres ? { postgresUrl: postgres.url } : {}),
  });
  const token = await issuer.sidecarToken('bench', 'bench');
  const pool = new Pool(collector.url, { connections: settings.senders, pipelining: 1 });
  const runId = randomUUID().slice(0, 8);
  let accepted = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const total = { batches: 0 };
  try {
    const deadline = performance.now() + (settings.warmupSeconds + settings.seconds) * 1000;
    const senders = Array.from({ length: settings.senders }, async (_, i) => {
      const sidecar = `bench-ingest-${runId}-${i}`;
      let next = 1;
      while (performance.now() < deadline) {
        const body = batch(sidecar, next, settings.batchEvents);
        const response = await pool.request({
          path: INGEST_PATH,
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/x-ndjson',
            [SIDECAR_HEADER]: sidecar,
          },
          body,
        });
        const text = await response.body.text();
        if (response.statusCode !== 200) {
          failures++;
          firstFailure ??= `${response.statusCode} ${text.slice(0, 300)}`;
          await sleep(100); // the same batch again, as a shipper retries
          continue;
        }
        const ack = JSON.parse(text) as { accepted: number };
        accepted += ack.accepted;
        total.batches++;
        next += settings.batchEvents;
      }
    });

    await sleep(settings.warmupSeconds * 1000);
    // The database server's processes count as ours (not as other people's load) in the window.
    const databasePids = postgres ? descendants(postgres.postmasterPid) : [];
    const databaseBefore = sumCpuSeconds(databasePids);
    const window = new CpuWindow([collector.child.pid], databasePids);
    const acceptedBefore = accepted;
    const metricsBefore = await scrape(`${collector.metricsUrl}/metrics`);
    await Promise.all(senders);
    const used = window.end();
    const databaseCpu = sumCpuSeconds(databasePids) - databaseBefore;
    const metricsAfter = await scrape(`${collector.metricsUrl}/metrics`);
    const events = accepted - acceptedBefore;
    const collectorCpu = used.cpuSeconds[collector.child.pid]!;
    const storeSeconds = (text: string, part: 'sum' | 'count') =>
      promValue(text, `portcullis_collector_store_duration_seconds_${part}`, 'operation="insert"');
    const inserts = storeSeconds(metricsAfter, 'count') - storeSeconds(metricsBefore, 'count');
    const insertSeconds = storeSeconds(metricsAfter, 'sum') - storeSeconds(metricsBefore, 'sum');
    if (events === 0) throw new Error(`no events ingested: ${firstFailure ?? 'no failure recorded'}`);
    return {
      store,
      collectorMain: settings.collectorMain ?? CLI_MAIN,
      senders: settings.senders,
      batchEvents: settings.batchEvents,
      meanEventBytes,
      seconds: round2(used.seconds),
      events,
      eventsPerSecond: Math.round(events / used.seconds),
      collectorCpuSeconds: round2(collectorCpu),
      collectorCoreBusy: round2(collectorCpu / used.seconds),
      eventsPerCollectorCpuSecond: Math.round(events / collectorCpu),
      ...(postgres
        ? {
            databaseCpuSeconds: round2(databaseCpu),
            eventsPerDatabaseCpuSecond: Math.round(events / databaseCpu),
          }
        : {}),
      // store.insert as the collector times it (wall clock, from the call to its commit: waiting for a
      // group commit with other senders' batches included).
      storeInserts: inserts,
      storeInsertMeanMs: inserts > 0 ? round2((insertSeconds / inserts) * 1000) : undefined,
      senderProcessCpuSeconds: round2(used.benchProcessCpuSeconds),
      failures,
      ...(firstFailure ? { firstFailure } : {}),
      otherBusyCores: used.otherBusyCores,
      pinning: `collector taskset -c ${settings.collectorCpu}; senders${postgres ? ' and PostgreSQL' : ''} on cpu ${settings.senderCpu}`,
      perEventMicroseconds: { collectorCpu: round1((collectorCpu / events) * 1e6) },
    };
  } finally {
    await pool.close();
    await collector.stop();
  }
}
