import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { jwksOf, signingKey, signToken, type SigningKey } from '../fixtures/auth/signing-keys.ts';
import { startJsonServer, type JsonServer } from '../fixtures/auth/json-server.ts';
import {
  adminKubeConfig,
  createNamespace,
  getJson,
  storedEvents,
  sidecarToken,
  startCollector,
  type CollectorUnderTest,
} from '../harness/collector.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../harness/recording-upstream.ts';
import { sidecarProcess, type SidecarProcess } from '../harness/sidecar-process.ts';
import { rawToolCall } from '../harness/sidecar-clients.ts';

/**
 * Nothing lost, nothing twice. One sidecar process is SIGKILLed at random moments under load, over and
 * over (PORTCULLIS_AUDIT_KILLS, default 1,000), always restarted over the same WAL. Even lives end up to
 * 60 ms after the sidecar is ready, wherever that finds it (its first call included); odd lives end up to
 * 60 ms after their first answered call, so however slow the machine, half the lives are known to have
 * served calls before the kill. For the first
 * PORTCULLIS_COLLECTOR_OUTAGE_SECONDS (default 310) the collector is down, so the WAL holds everything;
 * then it comes up and is itself SIGKILLed and restarted while batches are in flight. Durability
 * alternates between Strict and Batched from one start to the next.
 *
 * Afterwards, at the collector: every seq of the sidecar exactly once, no holes; every call the client
 * saw answered has exactly one decision event (and an allowed one its outcome); every call the server
 * received has its allowed decision; no call has two.
 */
const KILLS = Number(process.env['PORTCULLIS_AUDIT_KILLS'] ?? 1000);
const OUTAGE_MS = Number(process.env['PORTCULLIS_COLLECTOR_OUTAGE_SECONDS'] ?? 310) * 1000;
/** Calls one client sends per sidecar life, at most: bounds the WAL and the run. */
const CALLS_PER_LIFE = 12;
const CLIENTS = 2;
const ISSUER = 'https://id.example.com/realms/loss';
const AUDIENCE = 'https://billing.loss.example.com/mcp';

function policyYaml(namespace: string, durability: 'Strict' | 'Batched'): string {
  return `apiVersion: portcullis.dev/v1alpha1
kind: McpServer
metadata: { name: billing, namespace: ${namespace} }
spec:
  workload: { image: registry.example.com/billing:1 }
  auth:
    issuer: ${ISSUER}
    publicUrl: ${AUDIENCE}
    algorithms: [ES256]
  limits: { maxConcurrency: 1000, maxQueue: 0, callTimeoutSeconds: 5 }
  audit: { durability: ${durability}, arguments: Full }
---
apiVersion: portcullis.dev/v1alpha1
kind: ToolPolicy
metadata: { name: loss, namespace: ${namespace} }
spec:
  targets: { servers: [billing] }
  rules:
    - name: read
      tools: [read_invoice]
    - name: no-refunds
      effect: Deny
      tools: [issue_refund]
`;
}

interface Attempt {
  readonly nonce: string;
  readonly tool: 'read_invoice' | 'issue_refund';
  /** The HTTP status the client saw; undefined when the sidecar died first. */
  status?: number;
}

describe('audit: nothing lost across sidecar crashes, a collector outage and collector crashes', () => {
  let namespace: string;
  let key: SigningKey;
  let jwks: JsonServer;
  let upstream: RecordingUpstream;
  let collector: CollectorUnderTest;
  let sidecar: SidecarProcess;
  let policyFile: string;

  beforeAll(async () => {
    const admin = adminKubeConfig();
    namespace = await createNamespace(admin, 'audit-loss');
    const dir = mkdtempSync(join(inject('scratchDir'), 'audit-loss-'));
    const tokenFile = join(dir, 'collector-token');
    writeFileSync(tokenFile, await sidecarToken(admin, namespace, 'billing'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, policyYaml(namespace, 'Strict'));
    key = await signingKey('ES256', 'loss-1');
    jwks = await startJsonServer();
    jwks.serve('/jwks', jwksOf(key));
    upstream = await startRecordingUpstream();
    collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none' } });
    await collector.stop(); // the outage starts now
    sidecar = await sidecarProcess({
      args: [
        '--policy',
        policyFile,
        '--upstream',
        upstream.url,
        '--jwks-uri',
        `${jwks.origin}/jwks`,
        '--audit-wal',
        join(dir, 'wal'),
        '--collector-url',
        collector.url,
        '--collector-token-file',
        tokenFile,
        '--log-level',
        'warn',
      ],
    });
  });

  afterAll(async () => {
    await sidecar?.kill();
    await collector?.stop();
    await upstream?.close();
    await jwks?.close();
  });

  it(
    `keeps every decision exactly once through ${KILLS} SIGKILLs`,
    async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await signToken(key, {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: 'alice',
        client_id: 'loss-agent',
        iat: now,
        exp: now + 4 * 3600,
      });
      const attempts: Attempt[] = [];
      const started = Date.now();
      let collectorUp = false;
      let collectorCrashes = 0;
      let nonce = 0;

      const client = async (signal: AbortSignal, answered: () => void) => {
        for (let i = 0; i < CALLS_PER_LIFE && !signal.aborted; i++) {
          const attempt: Attempt = {
            nonce: `n-${nonce++}`,
            tool: Math.random() < 0.8 ? 'read_invoice' : 'issue_refund',
          };
          attempts.push(attempt);
          try {
            const { status } = await rawToolCall(sidecar.url, token, attempt.tool, { nonce: attempt.nonce });
            attempt.status = status;
            answered();
          } catch {
            return; // the sidecar died under this call: its fate is unknown to the client
          }
        }
      };

      for (let life = 0; life < KILLS; life++) {
        const elapsed = Date.now() - started;
        if (!collectorUp && elapsed >= OUTAGE_MS) {
          await collector.start();
          collectorUp = true;
        } else if (collectorUp && life % 97 === 0) {
          await collector.kill(); // mid-batch: the sidecar is shipping its backlog
          collectorCrashes++;
          await collector.start();
        }
        writeFileSync(policyFile, policyYaml(namespace, life % 2 === 0 ? 'Strict' : 'Batched'));
        await sidecar.start();
        const stop = new AbortController();
        let firstAnswer!: () => void;
        const answeredOnce = new Promise<void>((resolve) => (firstAnswer = resolve));
        const load = Promise.all(Array.from({ length: CLIENTS }, () => client(stop.signal, firstAnswer)));
        if (life % 2 === 1) {
          let timer: NodeJS.Timeout | undefined;
          const served = await Promise.race([
            answeredOnce.then(() => true),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000))),
          ]);
          clearTimeout(timer);
          expect(served, `life ${life}: no call answered within 10 s of the sidecar being ready`).toBe(true);
        }
        await new Promise((r) => setTimeout(r, Math.random() * 60));
        await sidecar.kill();
        stop.abort();
        await load;
      }
      // The outage lasts at least OUTAGE_MS, however quickly the crashes went by.
      const remaining = OUTAGE_MS - (Date.now() - started);
      if (!collectorUp) {
        if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
        await collector.start();
      }

      // One last life: ship everything.
      await sidecar.start();
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        const metrics = await fetch(`${sidecar.adminUrl}/metrics`).then((r) => r.text());
        if (/^portcullis_audit_wal_pending_events 0$/m.test(metrics)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await sidecar.stop();

      const events = await storedEvents(collector.url, namespace);
      const seqs = events.map((e) => e.seq).sort((a, b) => a - b);
      expect(new Set(events.map((e) => e.sidecar)).size).toBe(1);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // no holes, no twins

      const byNonce = new Map<string, { calls: AuditEvent[]; outcomes: AuditEvent[] }>();
      for (const event of events) {
        const n = (event.arguments as { nonce?: string } | undefined)?.nonce;
        if (n === undefined) continue;
        const entry = byNonce.get(n) ?? { calls: [], outcomes: [] };
        (event.kind === 'outcome' ? entry.outcomes : entry.calls).push(event);
        byNonce.set(n, entry);
      }
      const forwarded = new Set(
        upstream.requests
          .map((r) => (r.body as { params?: { arguments?: { nonce?: string } } }).params?.arguments?.nonce)
          .filter((n): n is string => n !== undefined),
      );
      const problems: string[] = [];
      for (const attempt of attempts) {
        const entry = byNonce.get(attempt.nonce) ?? { calls: [], outcomes: [] };
        if (entry.calls.length > 1) problems.push(`${attempt.nonce}: ${entry.calls.length} decisions`);
        if (entry.outcomes.length > 1) problems.push(`${attempt.nonce}: ${entry.outcomes.length} outcomes`);
        if (attempt.status !== undefined && entry.calls.length !== 1)
          problems.push(`${attempt.nonce}: answered ${attempt.status} without a decision event`);
        if (attempt.status === 200 && entry.outcomes.length !== 1)
          problems.push(`${attempt.nonce}: answered 200 without an outcome event`);
        if (attempt.status === 403 && entry.calls[0]?.decision !== 'denied')
          problems.push(`${attempt.nonce}: answered 403, recorded ${entry.calls[0]?.decision}`);
        if (forwarded.has(attempt.nonce) && entry.calls[0]?.decision !== 'allowed')
          problems.push(`${attempt.nonce}: reached the server without an allowed decision event`);
        if (entry.calls[0]?.decision === 'allowed' && attempt.tool !== 'read_invoice')
          problems.push(`${attempt.nonce}: ${attempt.tool} recorded as allowed`);
      }
      expect(problems.slice(0, 20)).toEqual([]);

      const answered = attempts.filter((a) => a.status !== undefined).length;
      const { sidecars } = (await getJson(collector.url, `/v1/sidecars?namespace=${namespace}`)).body as {
        sidecars: { contiguousThrough: number; highestSeq: number; reportedSeq: number }[];
      };
      expect(sidecars).toHaveLength(1);
      expect(sidecars[0]).toMatchObject({ contiguousThrough: seqs.length, highestSeq: seqs.length });
      console.log(
        JSON.stringify({
          kills: KILLS,
          collectorCrashes,
          outageSeconds: Math.round(OUTAGE_MS / 1000),
          attempts: attempts.length,
          answered,
          unanswered: attempts.length - answered,
          forwarded: forwarded.size,
          events: events.length,
          seconds: Math.round((Date.now() - started) / 1000),
        }),
      );
      // The load really ran between the crashes: every odd life had an answer before its kill, and most
      // calls are reads, which the server receives.
      expect(answered).toBeGreaterThanOrEqual(Math.floor(KILLS / 2));
      expect(forwarded.size).toBeGreaterThan(KILLS / 4);
    },
    KILLS * 3_000 + OUTAGE_MS + 240_000,
  );
});
